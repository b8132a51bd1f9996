"""Calendar integration: feed tokens, the change feed, webhooks out, busy time in."""
from sqlalchemy import CheckConstraint, Index, UniqueConstraint

from ..extensions import db
from ..domain.vocabulary import CALENDAR_KINDS, DELIVERY_STATUSES
from .types import Leased, UTCDateTime, one_of, utcnow


class CalendarToken(db.Model):
    """A secret for one iCalendar feed (a provider's, a room's or a location's)."""

    __tablename__ = "calendar_tokens"
    __table_args__ = (
        CheckConstraint("(CASE WHEN provider_id IS NULL THEN 0 ELSE 1 END + CASE WHEN room_id IS NULL THEN 0 ELSE 1 END + CASE WHEN location_id IS NULL THEN 0 ELSE 1 END) = 1",
                        name="one_subject"),
    )
    id = db.Column(db.Integer, primary_key=True)
    token_hash = db.Column(db.String(64), nullable=False, unique=True)
    provider_id = db.Column(db.ForeignKey("providers.id"))
    room_id = db.Column(db.ForeignKey("rooms.id"))
    location_id = db.Column(db.ForeignKey("locations.id"))
    created_by = db.Column(db.String(120), nullable=False)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    revoked_at = db.Column(UTCDateTime)


class Change(db.Model):
    """The change feed: one row per availability-affecting change, ids in commit order."""

    __tablename__ = "changes"
    __table_args__ = (Index("ix_changes_provider", "provider_id"),)
    id = db.Column(db.Integer, primary_key=True)
    at = db.Column(UTCDateTime, nullable=False)
    kind = db.Column(db.String(40), nullable=False)  # e.g. appointment.booked
    entity_type = db.Column(db.String(40), nullable=False)
    entity_id = db.Column(db.Integer)
    provider_id = db.Column(db.Integer)
    room_id = db.Column(db.Integer)
    location_id = db.Column(db.Integer)
    start_at = db.Column(UTCDateTime)
    end_at = db.Column(UTCDateTime)
    data = db.Column(db.JSON, nullable=False, default=dict)


class WebhookSubscription(Leased, db.Model):
    """Leased: one worker delivers a subscription's queue at a time, so order holds."""

    __tablename__ = "webhook_subscriptions"
    id = db.Column(db.Integer, primary_key=True)
    url = db.Column(db.String(500), nullable=False)
    events = db.Column(db.JSON, nullable=False, default=list)  # change kinds, or ["*"]
    secret_sealed = db.Column(db.Text, nullable=False)
    active = db.Column(db.Boolean, nullable=False, default=True)
    # Every change after this one is still to be queued for the subscription.
    queued_through = db.Column(db.Integer, nullable=False, default=0)
    failing_since = db.Column(UTCDateTime)
    last_error = db.Column(db.String(300))
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)


class WebhookDelivery(db.Model):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "change_id"),
        CheckConstraint(one_of("status", DELIVERY_STATUSES), name="status_known"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )
    id = db.Column(db.Integer, primary_key=True)
    subscription_id = db.Column(db.ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), nullable=False)
    change_id = db.Column(db.ForeignKey("changes.id"), nullable=False)
    status = db.Column(db.String(20), nullable=False, default="pending")
    attempts = db.Column(db.Integer, nullable=False, default=0)
    next_attempt_at = db.Column(UTCDateTime, nullable=False)
    first_attempt_at = db.Column(UTCDateTime)
    delivered_at = db.Column(UTCDateTime)
    last_status = db.Column(db.Integer)
    last_error = db.Column(db.String(300))

    attempt_log = db.relationship("WebhookAttempt", order_by="WebhookAttempt.id", viewonly=True)


class WebhookAttempt(db.Model):
    """The delivery log: one row per HTTP attempt."""

    __tablename__ = "webhook_attempts"
    id = db.Column(db.Integer, primary_key=True)
    delivery_id = db.Column(db.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False,
                            index=True)
    at = db.Column(UTCDateTime, nullable=False)
    status_code = db.Column(db.Integer)
    error = db.Column(db.String(300))
    duration_ms = db.Column(db.Integer)


class ExternalCalendar(Leased, db.Model):
    __tablename__ = "external_calendars"
    __table_args__ = (CheckConstraint(one_of("kind", CALENDAR_KINDS), name="kind_known"),)
    id = db.Column(db.Integer, primary_key=True)
    provider_id = db.Column(db.ForeignKey("providers.id"), nullable=False, index=True)
    kind = db.Column(db.String(10), nullable=False)
    url = db.Column(db.String(1000), nullable=False)
    username = db.Column(db.String(200))
    password_sealed = db.Column(db.Text)
    # ICS: the server's ETag and Last-Modified (conditional GET). CalDAV: the collections'
    # sync tokens, and the date of the last full fetch (the 90-day window moves daily).
    etag = db.Column(db.String(300))
    last_modified = db.Column(db.String(100))
    last_synced_at = db.Column(UTCDateTime)
    last_error = db.Column(db.String(500))
    last_error_at = db.Column(UTCDateTime)
    failures = db.Column(db.Integer, nullable=False, default=0)
    next_sync_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)


class BusyBlock(db.Model):
    """Busy time imported from a provider's own calendar; replaced whole on each sync."""

    __tablename__ = "busy_blocks"
    __table_args__ = (
        CheckConstraint("end_at > start_at", name="end_after_start"),
        Index("ix_busy_blocks_provider_start", "provider_id", "start_at"),
    )
    id = db.Column(db.Integer, primary_key=True)
    calendar_id = db.Column(db.ForeignKey("external_calendars.id", ondelete="CASCADE"), nullable=False,
                            index=True)
    provider_id = db.Column(db.ForeignKey("providers.id"), nullable=False)
    start_at = db.Column(UTCDateTime, nullable=False)
    end_at = db.Column(UTCDateTime, nullable=False)
    uid = db.Column(db.String(300))
