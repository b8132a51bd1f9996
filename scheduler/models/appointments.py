"""Appointments: the booked phases, and the database's own guard against double booking."""
from sqlalchemy import CheckConstraint, Index, text
from sqlalchemy.dialects.postgresql import ExcludeConstraint

from ..domain.scheduling import checkpoints
from ..domain.vocabulary import APPOINTMENT_STATUSES, OCCUPYING_STATUSES
from ..extensions import db
from .clinic import Timestamped
from .types import UTCDateTime, one_of

_OCCUPYING_SQL = one_of("status", OCCUPYING_STATUSES)


def _exclusion(name, resource, end_column, extra_where=""):
    """PostgreSQL refuses two occupying rows that share a resource and overlap in time."""
    where = _OCCUPYING_SQL + extra_where
    return ExcludeConstraint(
        (db.column(resource), "="),
        (text(f"tstzrange(start_at, {end_column}, '[)')"), "&&"),
        name=name, using="gist", where=text(where),
    ).ddl_if(dialect="postgresql")


class Appointment(Timestamped, db.Model):
    __tablename__ = "appointments"
    __table_args__ = (
        CheckConstraint(one_of("status", APPOINTMENT_STATUSES), name="status_known"),
        CheckConstraint("end_at > start_at", name="end_after_start"),
        CheckConstraint("provider_busy_end > start_at AND provider_busy_end <= end_at",
                        name="provider_busy_within"),
        CheckConstraint("room_busy_end IS NULL OR room_busy_end >= end_at", name="room_busy_after_end"),
        CheckConstraint("telehealth OR room_id IS NOT NULL", name="room_unless_telehealth"),
        Index("ix_appointments_location_start", "location_id", "start_at"),
        Index("ix_appointments_provider_start", "provider_id", "start_at"),
        Index("ix_appointments_room_start", "room_id", "start_at"),
        Index("ix_appointments_patient_start", "patient_id", "start_at"),
        # At most one dosing session per patient per local day, enforced by both databases.
        Index("uq_appointments_one_dosing_per_day", "patient_id", "local_date", unique=True,
              postgresql_where=text(f"is_dosing AND {_OCCUPYING_SQL}"),
              sqlite_where=text(f"is_dosing AND {_OCCUPYING_SQL}")),
        _exclusion("ex_appointments_provider_overlap", "provider_id", "provider_busy_end"),
        _exclusion("ex_appointments_room_overlap", "room_id", "room_busy_end", " AND room_id IS NOT NULL"),
        _exclusion("ex_appointments_patient_overlap", "patient_id", "end_at"),
    )
    id = db.Column(db.Integer, primary_key=True)
    patient_id = db.Column(db.ForeignKey("patients.id"), nullable=False)
    session_type_id = db.Column(db.ForeignKey("session_types.id"), nullable=False)
    location_id = db.Column(db.ForeignKey("locations.id"), nullable=False)
    provider_id = db.Column(db.ForeignKey("providers.id"), nullable=False)
    room_id = db.Column(db.ForeignKey("rooms.id"))
    telehealth = db.Column(db.Boolean, nullable=False, default=False)
    status = db.Column(db.String(20), nullable=False, default="booked", index=True)
    start_at = db.Column(UTCDateTime, nullable=False)
    # End of chair time for dosing (administering + monitoring); end of session otherwise.
    end_at = db.Column(UTCDateTime, nullable=False)
    # The provider is held from start_at to here: administering only, for dosing.
    provider_busy_end = db.Column(UTCDateTime, nullable=False)
    monitoring_start = db.Column(UTCDateTime)
    monitoring_end = db.Column(UTCDateTime)
    # The room is held until end_at plus the location's turnover (cleaning).
    room_busy_end = db.Column(UTCDateTime)
    local_date = db.Column(db.Date, nullable=False)
    is_dosing = db.Column(db.Boolean, nullable=False, default=False)
    ride_arranged = db.Column(db.Boolean)
    notes = db.Column(db.Text, nullable=False, default="")
    follows_appointment_id = db.Column(db.ForeignKey("appointments.id"))
    confirmed_at = db.Column(UTCDateTime)
    checked_in_at = db.Column(UTCDateTime)
    completed_at = db.Column(UTCDateTime)
    cancelled_at = db.Column(UTCDateTime)
    cancel_reason = db.Column(db.String(500))
    # Set when imported busy time now overlaps the appointment: the front desk decides.
    conflict = db.Column(db.Boolean, nullable=False, default=False)
    conflict_reason = db.Column(db.String(300))
    # iCalendar SEQUENCE: raised on every move.
    sequence = db.Column(db.Integer, nullable=False, default=0)
    created_by = db.Column(db.String(120), nullable=False, default="")

    patient = db.relationship("Patient")
    session_type = db.relationship("SessionType")
    location = db.relationship("Location")
    provider = db.relationship("Provider")
    room = db.relationship("Room")
    messages = db.relationship("Message", order_by="Message.send_at, Message.id", viewonly=True)

    # The API's names for the phases.
    @property
    def start(self):
        return self.start_at

    @property
    def end(self):
        return self.end_at

    @property
    def administering_end(self):
        return self.provider_busy_end

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None

    @property
    def checkpoints(self) -> list[dict]:
        """What the nurse must do when, for the day sheet (dosing sessions)."""
        if not self.is_dosing:
            return []
        tz = self.location.timezone
        points = checkpoints(self.session_type.checkpoints or [], self.start_at,
                             self.provider_busy_end, self.end_at)
        return [{"label": label, "at": at, "display_tz": tz} for label, at in points]

    @property
    def display_tz(self) -> str:
        return self.location.timezone
