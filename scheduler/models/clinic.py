"""Locations, rooms, providers and their availability, session types."""
from zoneinfo import ZoneInfo

from sqlalchemy import CheckConstraint, Index, UniqueConstraint

from ..extensions import db
from ..domain.session_types import REMS_MINIMUM_MONITORING_MINUTES
from ..domain.vocabulary import CATEGORIES, ROOM_KINDS
from .types import UTCDateTime, one_of, utcnow


class Timestamped:
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = db.Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
    version = db.Column(db.Integer, nullable=False, default=1)


class Location(Timestamped, db.Model):
    __tablename__ = "locations"
    __table_args__ = (
        CheckConstraint("monitoring_ratio >= 1", name="monitoring_ratio_positive"),
        CheckConstraint("turnover_minutes >= 0", name="turnover_not_negative"),
        CheckConstraint("slot_minutes >= 5", name="slot_minutes_min"),
    )
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(120), nullable=False, unique=True)
    slug = db.Column(db.String(60), nullable=False, unique=True)
    timezone = db.Column(db.String(64), nullable=False)
    state = db.Column(db.String(2), nullable=False)
    phone = db.Column(db.String(20), nullable=False)
    sms_display_name = db.Column(db.String(60), nullable=False)
    address = db.Column(db.String(300), nullable=False, default="")
    # {"mon": [["08:00", "18:00"]], ...}: wall-clock times in the location's zone.
    opening_hours = db.Column(db.JSON, nullable=False, default=dict)
    monitoring_ratio = db.Column(db.Integer, nullable=False, default=3)
    turnover_minutes = db.Column(db.Integer, nullable=False, default=15)
    slot_minutes = db.Column(db.Integer, nullable=False, default=15)
    quiet_start = db.Column(db.String(5), nullable=False, default="21:00")
    quiet_end = db.Column(db.String(5), nullable=False, default="08:00")
    sms_profile = db.Column(db.String(20), nullable=False, default="standard")
    sms_max_per_day = db.Column(db.Integer, nullable=False, default=3)
    sms_max_per_week = db.Column(db.Integer, nullable=False, default=8)
    feed_shows_patient_names = db.Column(db.Boolean, nullable=False, default=False)

    rooms = db.relationship("Room", back_populates="location", order_by="Room.id")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def display_tz(self) -> str:
        return self.timezone


class Room(Timestamped, db.Model):
    __tablename__ = "rooms"
    __table_args__ = (
        UniqueConstraint("location_id", "name"),
        CheckConstraint(one_of("kind", ROOM_KINDS), name="kind_known"),
    )
    id = db.Column(db.Integer, primary_key=True)
    location_id = db.Column(db.ForeignKey("locations.id"), nullable=False, index=True)
    name = db.Column(db.String(80), nullable=False)
    kind = db.Column(db.String(20), nullable=False)
    active = db.Column(db.Boolean, nullable=False, default=True)

    location = db.relationship("Location", back_populates="rooms")


class Provider(Timestamped, db.Model):
    __tablename__ = "providers"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(120), nullable=False)
    capabilities = db.Column(db.JSON, nullable=False, default=list)
    licensed_states = db.Column(db.JSON, nullable=False, default=list)
    phone = db.Column(db.String(20))
    active = db.Column(db.Boolean, nullable=False, default=True)

    external_calendars = db.relationship("ExternalCalendar", viewonly=True)

    @property
    def calendars_failing(self) -> int:
        """Linked calendars whose last sync failed (the front desk should know)."""
        return sum(1 for cal in self.external_calendars if cal.last_error)


class AvailabilityRule(Timestamped, db.Model):
    """A weekly working window at one location, in that location's wall-clock time."""

    __tablename__ = "availability_rules"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("end_time > start_time", name="end_after_start"),
        CheckConstraint("valid_until IS NULL OR valid_from IS NULL OR valid_until >= valid_from",
                        name="valid_range"),
        Index("ix_availability_rules_location_weekday", "location_id", "weekday"),
    )
    id = db.Column(db.Integer, primary_key=True)
    provider_id = db.Column(db.ForeignKey("providers.id"), nullable=False, index=True)
    location_id = db.Column(db.ForeignKey("locations.id"), nullable=False)
    weekday = db.Column(db.SmallInteger, nullable=False)  # 0 = Monday
    start_time = db.Column(db.Time, nullable=False)
    end_time = db.Column(db.Time, nullable=False)
    valid_from = db.Column(db.Date)
    valid_until = db.Column(db.Date)

    provider = db.relationship("Provider")
    location = db.relationship("Location")


class TimeOff(Timestamped, db.Model):
    __tablename__ = "time_off"
    __table_args__ = (
        CheckConstraint("end_at > start_at", name="end_after_start"),
        Index("ix_time_off_provider_start", "provider_id", "start_at"),
    )
    id = db.Column(db.Integer, primary_key=True)
    provider_id = db.Column(db.ForeignKey("providers.id"), nullable=False)
    start_at = db.Column(UTCDateTime, nullable=False)
    end_at = db.Column(UTCDateTime, nullable=False)
    reason = db.Column(db.String(200), nullable=False, default="")


class TravelTime(Timestamped, db.Model):
    """Minutes a provider needs between sessions at two locations (stored low id first)."""

    __tablename__ = "travel_times"
    __table_args__ = (
        UniqueConstraint("location_a_id", "location_b_id"),
        CheckConstraint("location_a_id < location_b_id", name="ordered_pair"),
        CheckConstraint("minutes >= 0", name="minutes_not_negative"),
    )
    id = db.Column(db.Integer, primary_key=True)
    location_a_id = db.Column(db.ForeignKey("locations.id"), nullable=False)
    location_b_id = db.Column(db.ForeignKey("locations.id"), nullable=False)
    minutes = db.Column(db.Integer, nullable=False)


class SessionType(Timestamped, db.Model):
    __tablename__ = "session_types"
    __table_args__ = (
        CheckConstraint(one_of("category", CATEGORIES), name="category_known"),
        CheckConstraint(one_of("room_kind", ROOM_KINDS), name="room_kind_known"),
        CheckConstraint("administering_minutes > 0", name="administering_positive"),
        CheckConstraint("monitoring_minutes >= 0", name="monitoring_not_negative"),
        # FDA REMS: a flagged type never monitors for less than two hours.
        CheckConstraint(f"NOT rems OR monitoring_minutes >= {REMS_MINIMUM_MONITORING_MINUTES}",
                        name="rems_monitoring_minimum"),
    )
    id = db.Column(db.Integer, primary_key=True)
    code = db.Column(db.String(40), nullable=False, unique=True)
    name = db.Column(db.String(120), nullable=False)
    category = db.Column(db.String(20), nullable=False)
    administering_minutes = db.Column(db.Integer, nullable=False)
    monitoring_minutes = db.Column(db.Integer, nullable=False, default=0)
    room_kind = db.Column(db.String(20), nullable=False)
    telehealth_allowed = db.Column(db.Boolean, nullable=False, default=False)
    rems = db.Column(db.Boolean, nullable=False, default=False)
    # Any one of these capabilities may administer (or conduct) the session.
    provider_capabilities = db.Column(db.JSON, nullable=False, default=list)
    min_notice_minutes = db.Column(db.Integer, nullable=False, default=120)
    follow_window_hours = db.Column(db.Integer, nullable=False, default=72)
    # Pre-session rules for the instructions text, e.g. {"no_solid_food_hours": 6}.
    instructions = db.Column(db.JSON, nullable=False, default=dict)
    # [{"label": "Blood pressure", "anchor": "start"|"monitoring_start"|"end", "offset_minutes": 0}]
    checkpoints = db.Column(db.JSON, nullable=False, default=list)
    active = db.Column(db.Boolean, nullable=False, default=True)
