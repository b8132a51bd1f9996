"""Twilio status callbacks: each text's delivery state, idempotent and order-proof.

Callbacks arrive late, twice and out of order. A state only moves forward (a late
``sent`` never overwrites ``delivered``); a temporary delivery failure (30001, 30003)
puts the text back in the queue while it is still useful; 21610 marks the patient opted
out.
"""
from __future__ import annotations

import datetime as dt

from ...adapters.sms import classify_delivery_error
from ...domain.retry import DELIVERY
from ...extensions import db
from ...models import Message
from ..platform import leases
from ..platform.transaction import write_transaction
from .dispatch import MAX_ATTEMPTS, mark_opted_out

# Twilio's MessageStatus -> ours, with a rank: a callback never lowers the rank.
TWILIO_STATUS = {"accepted": "sent", "scheduled": "sent", "queued": "sent", "sending": "sent",
                 "sent": "sent", "delivered": "delivered", "read": "delivered",
                 "undelivered": "undelivered", "failed": "failed", "canceled": "failed"}
RANK = {"planned": 0, "sending": 1, "sent": 2, "undelivered": 3, "failed": 3, "delivered": 4}
FINAL_ELSEWHERE = {"skipped", "voided"}


def record_status(ref: str | None, sid: str | None, twilio_status: str | None,
                  error_code: int | None, now: dt.datetime) -> str:
    """Apply one callback; returns what happened (for logs and tests)."""
    ours = TWILIO_STATUS.get((twilio_status or "").lower())
    if ours is None or not sid:
        return "ignored"
    with write_transaction():
        return _apply(ref, sid, ours, error_code, now)


def _apply(ref, sid, ours: str, error_code, now: dt.datetime) -> str:
    msg = None
    if ref and ref.isdigit():
        msg = db.session.get(Message, int(ref), with_for_update=True)
    if msg is None:
        msg = db.session.query(Message).filter_by(twilio_sid=sid).with_for_update().first()
    if msg is None or msg.status in FINAL_ELSEWHERE:
        return "unknown"
    if msg.twilio_sid not in (None, sid) or msg.status == "planned":
        # About an earlier attempt of this text: a planned row has nothing at Twilio (it
        # was requeued after that attempt failed), so a late "sent" must not end its retry.
        return "stale"
    if msg.twilio_sid is None:
        msg.twilio_sid, msg.sent_at = sid, msg.sent_at or now
    outcome = "unchanged"
    if RANK[ours] > RANK.get(msg.status, 0):
        msg.status, outcome = ours, ours
        leases.release(msg)
        if ours in ("undelivered", "failed"):
            msg.error_code = error_code
            outcome = _after_failure(msg, error_code, now)
    msg.updated_at = now
    return outcome


def _after_failure(msg: Message, error_code: int | None, now: dt.datetime) -> str:
    if error_code == 21610:
        mark_opted_out(msg.patient_id, now)
        msg.reason = "the number opted out (STOP)"
        return "opted_out"
    if classify_delivery_error(error_code) == "retryable" and msg.attempts < MAX_ATTEMPTS:
        retry_at = now + DELIVERY.after(msg.attempts)
        if msg.stale_at is None or retry_at < msg.stale_at:
            # Handset unreachable or queue overflow: try again while the text is useful.
            msg.status, msg.send_at, msg.twilio_sid = "planned", retry_at, None
            msg.reason = f"delivery failed ({error_code}); retrying"
            return "requeued"
    msg.reason = f"delivery failed ({error_code})" if error_code else "delivery failed"
    return msg.status
