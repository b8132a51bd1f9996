"""Planning texts into the outbox, in the same transaction as the booking that causes them.

Each planned text is a row with a unique key (appointment, plan generation, kind, planned
time): planning the same thing twice inserts nothing twice. A move or a cancellation
voids every text still planned for the old time before planning anew.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from ...domain import reminders
from ...extensions import db
from ...models import Appointment, Message
from .mapping import clinic_of, policy_of, visit_of
from .templates import overrides_for

COUNTED = ("planned", "sending", "sent", "delivered")
CAP_HORIZON = dt.timedelta(days=8)


def _existing(appt: Appointment) -> list[reminders.Existing]:
    rows = db.session.execute(select(Message.send_at, Message.kind, Message.appointment_id).where(
        Message.patient_id == appt.patient_id, Message.status.in_(COUNTED),
        Message.send_at >= appt.start_at - CAP_HORIZON, Message.send_at <= appt.start_at + CAP_HORIZON))
    return [reminders.Existing(send_at=r.send_at, kind=r.kind, appointment_id=r.appointment_id or 0)
            for r in rows]


def _store(appt: Appointment, texts: list[reminders.PlannedText]) -> list[Message]:
    patient = appt.patient
    gate = None
    if patient.sms_opted_out:
        gate = "opted_out"
    elif not patient.sms_consent:
        gate = "no_consent"
    rows = []
    for text in texts:
        skipped = text.status != "planned" or gate is not None
        row = Message(appointment_id=appt.id, patient_id=patient.id, kind=text.kind,
                      priority=text.priority, body=text.body, to_phone=patient.phone,
                      status="skipped" if skipped else "planned",
                      reason=text.reason if text.status != "planned" else gate,
                      dedupe_key=f"{text.dedupe_key}#{appt.sequence}", send_at=text.send_at,
                      stale_at=text.deadline)
        db.session.add(row)
        rows.append(row)
    db.session.flush()
    return rows


def _overrides(appt: Appointment) -> dict[str, str]:
    return overrides_for(appt.session_type_id, appt.location_id)


def plan_booked(appt: Appointment, now: dt.datetime) -> list[Message]:
    location = appt.location
    texts = reminders.plan(visit_of(appt), clinic_of(location), policy_of(location), now=now,
                           existing=_existing(appt), overrides=_overrides(appt))
    return _store(appt, texts)


def plan_moved(appt: Appointment, old_start: dt.datetime, now: dt.datetime) -> list[Message]:
    void_planned(appt, "moved", now)
    location = appt.location
    texts = reminders.plan_move(visit_of(appt, old_start), visit_of(appt), clinic_of(location),
                                policy_of(location), now=now, existing=_existing(appt),
                                overrides=_overrides(appt))
    return _store(appt, texts)


def plan_cancelled(appt: Appointment, now: dt.datetime) -> list[Message]:
    void_planned(appt, "cancelled", now)
    location = appt.location
    texts = reminders.plan_cancellation(visit_of(appt), clinic_of(location), policy_of(location),
                                        now=now, existing=_existing(appt), overrides=_overrides(appt))
    return _store(appt, texts)


def void_planned(appt: Appointment, why: str, now: dt.datetime) -> int:
    """Void every text still waiting for this appointment (sent ones cannot be unsent)."""
    result = db.session.execute(
        update(Message).where(Message.appointment_id == appt.id, Message.status == "planned")
        .values(status="voided", reason=f"appointment {why}", updated_at=now)
        .execution_options(synchronize_session=False))
    return result.rowcount
