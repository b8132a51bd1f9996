"""The SMS outbox and the replies patients send."""
from sqlalchemy import CheckConstraint, Index

from ..extensions import db
from ..domain.vocabulary import MESSAGE_STATUSES, TEMPLATE_VARIANTS
from .types import Leased, UTCDateTime, one_of, utcnow


class Message(Leased, db.Model):
    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint(one_of("status", MESSAGE_STATUSES), name="status_known"),
        # The dispatch job's query: due planned rows, and expired leases.
        Index("ix_messages_status_send_at", "status", "send_at"),
        Index("ix_messages_patient_send_at", "patient_id", "send_at"),
        Index("ix_messages_appointment", "appointment_id"),
    )
    id = db.Column(db.Integer, primary_key=True)
    appointment_id = db.Column(db.ForeignKey("appointments.id"))
    patient_id = db.Column(db.ForeignKey("patients.id"), nullable=False)
    kind = db.Column(db.String(30), nullable=False)
    priority = db.Column(db.Integer, nullable=False, default=0)
    body = db.Column(db.Text, nullable=False)
    to_phone = db.Column(db.String(20), nullable=False)
    status = db.Column(db.String(20), nullable=False, default="planned")
    # Unique per (appointment, kind, planned time): nothing is planned twice.
    dedupe_key = db.Column(db.String(200), nullable=False, unique=True)
    send_at = db.Column(UTCDateTime, nullable=False)
    # After this instant the text is no longer useful (e.g. the session has started).
    stale_at = db.Column(UTCDateTime)
    attempts = db.Column(db.Integer, nullable=False, default=0)
    sent_at = db.Column(UTCDateTime)
    twilio_sid = db.Column(db.String(64), unique=True)
    error_code = db.Column(db.Integer)
    reason = db.Column(db.String(300))
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = db.Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    appointment = db.relationship("Appointment")

    @property
    def display_tz(self) -> str | None:
        return self.appointment.location.timezone if self.appointment else None


class InboundMessage(db.Model):
    __tablename__ = "inbound_messages"
    id = db.Column(db.Integer, primary_key=True)
    twilio_sid = db.Column(db.String(64), unique=True)
    from_phone = db.Column(db.String(20), nullable=False, index=True)
    to_phone = db.Column(db.String(20))
    body = db.Column(db.Text, nullable=False, default="")
    patient_id = db.Column(db.ForeignKey("patients.id"), index=True)
    appointment_id = db.Column(db.ForeignKey("appointments.id"))
    # One of REPLY_ACTIONS: "other" waits for the front desk.
    action = db.Column(db.String(20), nullable=False)
    handled = db.Column(db.Boolean, nullable=False, default=False)
    received_at = db.Column(UTCDateTime, nullable=False, default=utcnow)


class MessageTemplate(db.Model):
    """An admin's wording for one kind of text, for a session type and/or a location.

    The most specific template wins: (type and location), then type, then location, then
    the defaults in domain/templates.py. Saving one that names the treatment is refused.
    """

    __tablename__ = "message_templates"
    __table_args__ = (
        CheckConstraint(one_of("variant", TEMPLATE_VARIANTS), name="variant_known"),
        Index("ix_message_templates_scope", "kind", "session_type_id", "location_id"),
    )
    id = db.Column(db.Integer, primary_key=True)
    kind = db.Column(db.String(30), nullable=False)
    variant = db.Column(db.String(10), nullable=False, default="full")
    session_type_id = db.Column(db.ForeignKey("session_types.id"))
    location_id = db.Column(db.ForeignKey("locations.id"))
    body = db.Column(db.Text, nullable=False)
    version = db.Column(db.Integer, nullable=False, default=1)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = db.Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
