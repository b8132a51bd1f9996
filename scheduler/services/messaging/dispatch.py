"""Sending the outbox: claim due texts atomically, send each once, record what happened.

Claiming flips rows from ``planned`` to ``sending`` with a lease (owner and expiry) in one
short transaction: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a write-locked select and
update on SQLite. Two workers never claim the same row; a row whose worker died is
claimed again when its lease runs out. Each status callback carries our row id, so a text
Twilio accepted is recorded as sent even if the worker died before saving the SID, and
is not claimed again.

Before sending, the row is checked again (the appointment may have been cancelled, the
patient may have opted out, the text may have gone stale during downtime).
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field

from sqlalchemy import and_, or_

from ...adapters.sms import OptedOutError, SmsError
from ...domain.quiet_hours import fit_outside_quiet, is_quiet
from ...domain.retry import DELIVERY
from ...domain.segments import count_segments
from ...domain.vocabulary import ACTIVE_STATUSES
from ...extensions import db
from ...metrics import TEXTS
from ...models import Appointment, Message, Patient
from ..platform import leases
from ..platform.transaction import end_read, write_transaction
from .mapping import clinic_of

log = logging.getLogger("scheduler.dispatch")
LEASE = dt.timedelta(minutes=5)
# After an answer we could not read, Twilio may have the text: wait for its callback.
MAYBE_SENT_HOLD = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 8
NOTICE_KINDS = ("cancelled", "moved")  # still useful after the appointment was cancelled


@dataclass
class DispatchReport:
    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    retried: int = 0
    failed: int = 0
    held: int = 0
    deferred: int = 0
    errors: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, outcome: str, error_key=None) -> None:
        TEXTS.labels(outcome, str(error_key or "")).inc()
        with self._lock:  # sends run in a small thread pool
            setattr(self, outcome, getattr(self, outcome) + 1)
            if error_key is not None:
                self.errors[error_key] = self.errors.get(error_key, 0) + 1


def claim_due(now: dt.datetime, owner: str, limit: int = 50) -> list[int]:
    """Atomically take up to ``limit`` due rows for this worker; returns their ids."""
    due = or_(and_(Message.status == "planned", Message.send_at <= now),
              and_(Message.status == "sending", Message.lease_until < now))
    with write_transaction():
        return leases.claim(Message, due, owner, now, LEASE, order_by=(Message.send_at, Message.id),
                            limit=limit, values={"status": "sending", "attempts": Message.attempts + 1,
                                                 "updated_at": now})


def _why_not(msg: Message, now: dt.datetime) -> str | None:
    patient: Patient = db.session.get(Patient, msg.patient_id)
    if patient.sms_opted_out:
        return "opted_out"
    if not patient.sms_consent:
        return "no_consent"
    if msg.stale_at is not None and now >= msg.stale_at:
        return "stale"
    if msg.appointment_id is not None and msg.kind not in NOTICE_KINDS:
        appt = db.session.get(Appointment, msg.appointment_id)
        if appt.status not in ACTIVE_STATUSES:
            return f"appointment {appt.status}"
    return None


def _quiet_hours(msg: Message, now: dt.datetime) -> tuple[bool, dt.datetime | None]:
    """(True, when to send instead or None) if now is in the quiet hours of the patient's
    location (the appointment's, else the patient's home location); else (False, None)."""
    appt = db.session.get(Appointment, msg.appointment_id) if msg.appointment_id else None
    location = appt.location if appt is not None else \
        db.session.get(Patient, msg.patient_id).home_location
    clinic = clinic_of(location)
    if not is_quiet(now, clinic.zone, clinic.quiet_start, clinic.quiet_end):
        return False, None
    deadline = msg.stale_at or now + dt.timedelta(days=2)
    return True, fit_outside_quiet(now, now=now, deadline=deadline, tz=clinic.zone,
                                   start=clinic.quiet_start, end=clinic.quiet_end)


def _finish(msg_id: int, owner: str, now: dt.datetime, **values) -> bool:
    """Record an outcome, only if this worker still holds the row's lease."""
    with write_transaction():
        return leases.update_if_held(Message, msg_id, owner, Message.status == "sending",
                                     updated_at=now, **values)


def send_one(msg_id: int, sender, limiter, owner: str, now: dt.datetime, report: DispatchReport) -> None:
    msg = db.session.get(Message, msg_id)
    if msg is None or msg.status != "sending" or msg.lease_owner != owner:
        return
    reason = _why_not(msg, now)
    if reason:
        _finish(msg_id, owner, now, status="skipped", reason=reason, lease_owner=None, lease_until=None)
        report.add("skipped")
        return
    quiet, later = _quiet_hours(msg, now)
    if quiet:
        # Caught up after downtime, or a retry, landing in the quiet hours: wait for the
        # morning while still useful (this claim was no attempt), else skip.
        if later is None:
            _finish(msg_id, owner, now, status="skipped", reason="quiet_hours", lease_owner=None,
                    lease_until=None)
            report.add("skipped")
        else:
            _finish(msg_id, owner, now, status="planned", send_at=later, attempts=Message.attempts - 1,
                    reason="quiet hours: waiting for the morning", lease_owner=None, lease_until=None)
            report.add("deferred")
        return
    to, body, attempts, stale_at = msg.to_phone, msg.body, msg.attempts, msg.stale_at
    end_read()  # hold no transaction (nor SQLite lock) while talking to Twilio
    if limiter is not None:
        limiter.acquire(count_segments(body))
    try:
        result = sender.send(to, body, msg_id)
    except SmsError as error:
        _failed(msg_id, owner, now, error, attempts, stale_at, report)
        return
    _finish(msg_id, owner, now, status="sent", twilio_sid=result.sid, sent_at=now, error_code=None,
            reason=None, lease_until=None)
    report.add("sent")


def _failed(msg_id, owner, now, error: SmsError, attempts, stale_at, report: DispatchReport) -> None:
    error_key = error.code or error.http_status or "network"
    if isinstance(error, OptedOutError):
        with write_transaction():
            mark_opted_out(db.session.get(Message, msg_id).patient_id, now)
    if not error.retryable:
        _finish(msg_id, owner, now, status="failed", error_code=error.code, reason=str(error)[:300],
                lease_until=None)
        report.add("failed", error_key)
        return
    if error.maybe_sent:
        # Twilio may have accepted it: keep the lease longer and let its callback tell us.
        _finish(msg_id, owner, now, lease_until=now + MAYBE_SENT_HOLD, error_code=error.code,
                reason="no answer from Twilio; waiting for its status callback")
        report.add("held", error_key)
        return
    retry_at = now + DELIVERY.after(attempts)
    if attempts >= MAX_ATTEMPTS or (stale_at is not None and retry_at >= stale_at):
        _finish(msg_id, owner, now, status="failed", error_code=error.code,
                reason=f"gave up after {attempts} attempts: {error}"[:300], lease_until=None)
        report.add("failed", error_key)
        return
    _finish(msg_id, owner, now, status="planned", send_at=retry_at, error_code=error.code,
            reason=f"retrying: {error}"[:300], lease_owner=None, lease_until=None)
    report.add("retried", error_key)


def mark_opted_out(patient_id: int, now: dt.datetime) -> None:
    patient = db.session.get(Patient, patient_id)
    if patient is not None and not patient.sms_opted_out:
        patient.sms_opted_out = True
        patient.sms_opted_out_at = now
        patient.version += 1
