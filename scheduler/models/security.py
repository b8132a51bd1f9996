"""API keys, the audit log, idempotency records and the worker heartbeat."""
from sqlalchemy import CheckConstraint, Index, UniqueConstraint

from ..extensions import db
from ..domain.vocabulary import ROLES
from .types import UTCDateTime, one_of, utcnow


class ApiKey(db.Model):
    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint(one_of("role", ROLES), name="role_known"),
    )
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(120), nullable=False, unique=True)
    role = db.Column(db.String(20), nullable=False)
    # SHA-256 of the whole key: keys are long random strings, so a fast hash is enough.
    key_hash = db.Column(db.String(64), nullable=False, unique=True)
    prefix = db.Column(db.String(12), nullable=False)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    revoked_at = db.Column(UTCDateTime)


class AuditEntry(db.Model):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity_type", "entity_id"),)
    id = db.Column(db.Integer, primary_key=True)
    at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    actor = db.Column(db.String(120), nullable=False)
    action = db.Column(db.String(60), nullable=False)
    entity_type = db.Column(db.String(60), nullable=False)
    entity_id = db.Column(db.Integer)
    before = db.Column(db.JSON)
    after = db.Column(db.JSON)
    request_id = db.Column(db.String(64))


class IdempotencyRecord(db.Model):
    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("api_key_id", "key"),)
    id = db.Column(db.Integer, primary_key=True)
    api_key_id = db.Column(db.ForeignKey("api_keys.id"), nullable=False)
    key = db.Column(db.String(200), nullable=False)
    request_hash = db.Column(db.String(64), nullable=False)
    status_code = db.Column(db.Integer, nullable=False)
    response = db.Column(db.JSON, nullable=False)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)


class Heartbeat(db.Model):
    """One row per worker process: /readyz reads how fresh the newest one is."""

    __tablename__ = "heartbeats"
    name = db.Column(db.String(120), primary_key=True)
    beat_at = db.Column(UTCDateTime, nullable=False)
