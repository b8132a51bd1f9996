"""Patients' replies: confirm, opt out, opt back in, ask for help; the rest waits for a person.

Twilio itself blocks texts to a number that sent STOP (and answers STOP/START/HELP with
its own confirmations when Advanced Opt-Out is on), so we record the state and answer
only what Twilio does not: a confirmation and HELP with the clinic's phone number.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import phonenumbers
from sqlalchemy import select

from ...domain.templates import format_date, format_time
from ...extensions import db
from ...domain.vocabulary import ACTIVE_STATUSES
from ...models import Appointment, InboundMessage, Location, Patient
from ..platform import audit, records
from ..platform.transaction import write_transaction
from .dispatch import mark_opted_out
from .mapping import pretty_phone

OPT_OUT = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
OPT_IN = {"START", "UNSTOP"}
CONFIRM = {"C", "CONFIRM"}
HELP = {"HELP", "INFO"}
SMS_REPLY = audit.Actor("sms reply")


@dataclass
class ReplyOutcome:
    action: str
    answer: str | None = None  # text to send back in the TwiML response


def keyword(body: str) -> str:
    """The reply as a keyword when it is one word ("stop", "Yes!", " C "), else ""."""
    words = re.findall(r"[A-Za-z]+", body or "")
    return words[0].upper() if len(words) == 1 else ""


def _normalise(phone: str) -> str:
    try:
        return phonenumbers.format_number(phonenumbers.parse(phone, "US"),
                                          phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        return phone[:20]


def handle_reply(sid: str | None, from_phone: str, to_phone: str | None, body: str,
                 now: dt.datetime) -> ReplyOutcome:
    with write_transaction():
        if sid and db.session.scalar(select(InboundMessage).where(InboundMessage.twilio_sid == sid)):
            return ReplyOutcome("duplicate")  # Twilio retried the webhook: do nothing twice
        return _answer(sid, from_phone, to_phone, body, now)


def _answer(sid, from_phone, to_phone, body, now) -> ReplyOutcome:
    phone = _normalise(from_phone or "")
    patients = list(db.session.scalars(select(Patient).where(Patient.phone == phone).order_by(Patient.id)))
    word = keyword(body)
    action, answer, appointment_id, handled = "other", None, None, False
    if word in OPT_OUT:
        action, handled = "opt_out", word != "CANCEL"
        for p in patients:
            mark_opted_out(p.id, now)
            audit.record(SMS_REPLY, "opt-out", p, entity_type="patients")
    elif word in OPT_IN or (word == "YES" and any(p.sms_opted_out for p in patients)):
        action, handled = "opt_in", True
        for p in patients:
            p.sms_opted_out, p.sms_opted_out_at = False, None
            p.version += 1
            audit.record(SMS_REPLY, "opt-in", p, entity_type="patients")
    elif word in HELP:
        action, handled = "help", True
        answer = _help_text(patients)
    elif word in CONFIRM or word == "YES":
        appt = _next_appointment(patients, now)
        if appt is not None:
            action, handled, appointment_id = "confirm", True, appt.id
            if appt.confirmed_at is None:
                before = audit.snapshot(appt)
                appt.confirmed_at = now
                appt.version += 1
                audit.record(SMS_REPLY, "confirm", appt, before=before)
            local = appt.start_at.astimezone(appt.location.tz)
            answer = (f"{appt.location.sms_display_name}: thank you, your visit on "
                      f"{format_date(local)} at {format_time(local)} is confirmed.")
        else:
            action = "other"
    db.session.add(InboundMessage(
        twilio_sid=sid, from_phone=phone, to_phone=to_phone, body=(body or "")[:1600],
        patient_id=patients[0].id if patients else None, appointment_id=appointment_id,
        action=action, handled=handled, received_at=now))
    return ReplyOutcome(action, answer)


def _next_appointment(patients, now) -> Appointment | None:
    if not patients:
        return None
    return db.session.scalar(select(Appointment).where(
        Appointment.patient_id.in_([p.id for p in patients]), Appointment.status.in_(ACTIVE_STATUSES),
        Appointment.start_at > now).order_by(Appointment.start_at).limit(1))


def _help_text(patients) -> str:
    location = patients[0].home_location if patients else \
        db.session.scalar(select(Location).order_by(Location.id).limit(1))
    if location is None:
        return "Please call your clinic for help. Reply STOP to opt out."
    return (f"{location.sms_display_name}: for help call {pretty_phone(location.phone)}. "
            f"Reply STOP to opt out.")


def mark_handled(reply_id: int, handled: bool, actor) -> InboundMessage:
    """The front desk has dealt with a reply (or reopens it)."""
    with write_transaction():
        row = records.lock(InboundMessage, reply_id, "reply")
        before = audit.snapshot(row)
        row.handled = handled
        audit.record(actor, "update", row, before=before)
    return row


def list_replies(limit: int, after: int | None, handled: bool | None = None) -> records.Page:
    filters = [InboundMessage.handled.is_(handled)] if handled is not None else []
    return records.page(InboundMessage, limit, after, *filters)
