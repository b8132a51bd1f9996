"""Idempotent retries of a booking: a retry with the same key and body returns the first
result and books nothing; the same key with another body is refused.

The record is written in the booking's own transaction, so a booking and its key are
committed together or not at all; a concurrent twin loses on the unique (key, caller).
"""
import hashlib
import json

from sqlalchemy import select

from ...domain.errors import Invalid
from ...extensions import db
from ...models import Appointment, IdempotencyRecord


class Idempotency:
    """One caller's key for one request body. ``field`` names where the key came from in
    the caller's terms (the API's header), for the errors."""

    def __init__(self, api_key_id: int, key: str, body: dict, field: str = "idempotency_key"):
        self.field = field
        if not key or len(key) > 200 or not key.isprintable():
            raise Invalid(f"{field} must be 1 to 200 printable characters.",
                          errors={field: ["1 to 200 printable characters."]})
        self.api_key_id, self.key = api_key_id, key
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
        self.request_hash = hashlib.sha256(canonical.encode()).hexdigest()

    def replay(self) -> Appointment | None:
        record = db.session.scalar(select(IdempotencyRecord).where(
            IdempotencyRecord.api_key_id == self.api_key_id, IdempotencyRecord.key == self.key))
        if record is None:
            return None
        if record.request_hash != self.request_hash:
            raise Invalid(f"This {self.field} was used with a different request body.",
                          code="idempotency_key_reused",
                          errors={self.field: ["Already used with another body."]})
        return db.session.get(Appointment, record.response["appointment_id"])

    def remember(self, appointment_id: int) -> None:
        db.session.add(IdempotencyRecord(api_key_id=self.api_key_id, key=self.key,
                                         request_hash=self.request_hash, status_code=201,
                                         response={"appointment_id": appointment_id}))
