"""Shared helpers for the SMS tests (issue 4): a clinic that can book every session type,
the app's Twilio settings pointed at a fake (or Prism), signed webhook posts, a dispatch
loop driven by the FixedClock, and direct outbox rows.

Nothing here sleeps: time moves by setting the FixedClock and calling send_texts_job().
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import re
from contextlib import contextmanager
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from scheduler.domain.templates import find_forbidden
from scheduler.extensions import db
from scheduler.jobs.texts import send_texts_job
from scheduler.models import Message, Patient
from tests.support import clinic as c

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "sms-tests-auth-token"
FROM = "+18055550199"
MG_SID = "MG" + "fedcba9876543210" * 2
PUBLIC = "https://clinic.example.com"
STATUS_PATH = "/webhooks/twilio/status"
INBOUND_PATH = "/webhooks/twilio/inbound"
PHONE = "+18055550111"
LA = ZoneInfo("America/Los_Angeles")
UTC = dt.timezone.utc
MONDAY = "2030-01-07"
TUESDAY = "2030-01-08"
# Words a text must never contain (the brief's list); find_forbidden() checks the rest.
_KEYS = itertools.count(1)
TREATMENT_WORDS = re.compile(r"ketamine|infusion|spravato", re.IGNORECASE)


@contextmanager
def twilio_settings(app, api_base_url: str | None, **overrides):
    """Point the app's frozen settings at a Twilio peer; the sender is rebuilt, and both
    are restored afterwards. The rate limit is raised so no test waits on it."""
    original = app.extensions["settings"]
    values = dict(twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN,
                  twilio_from_number=FROM, twilio_messaging_service_sid=None,
                  twilio_api_base_url=api_base_url, public_base_url=PUBLIC,
                  sms_rate_per_second=1000.0)
    values.update(overrides)
    app.extensions["settings"] = dataclasses.replace(original, **values)
    app.extensions.pop("sms_sender", None)
    try:
        yield app.extensions["settings"]
    finally:
        app.extensions["settings"] = original
        app.extensions.pop("sms_sender", None)


@dataclasses.dataclass
class SmsClinic:
    location: object
    patient: object
    treatment_room: object
    therapy_room: object


def sms_clinic(name="Pasadena", consent=True, opted_out=False, phone=PHONE,
               **location_extra) -> SmsClinic:
    """One location (Los Angeles time) with staff for every default session type, one
    treatment and one therapy room, and one patient; committed."""
    loc = c.location(name, **location_extra)
    (treatment,) = c.rooms(loc, "treatment", 1)
    (therapy,) = c.rooms(loc, "therapy", 1)
    c.provider(f"Dr. {name}", ["prescriber"], at=loc)
    c.provider(f"Nurse {name}", ["nurse"], at=loc)
    c.provider(f"Therapist {name}", ["therapist"], at=loc)
    patient = c.patient(loc, phone=phone, consent=consent)
    patient.sms_opted_out = opted_out
    c.commit()
    return SmsClinic(loc, patient, treatment, therapy)


def book(api, clinic: SmsClinic, session_type="ketamine_iv", day=MONDAY, at="10:00",
         patient_id=None, expect=201) -> dict:
    body = {"patient_id": patient_id or clinic.patient.id, "session_type": session_type,
            "location_id": clinic.location.id, "start": c.local(day, at)}
    response = api.post("/appointments", json=body, as_="front_desk")
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def local(day: str, hm: str) -> dt.datetime:
    """A UTC instant for a Los Angeles wall-clock time."""
    return dt.datetime.fromisoformat(f"{day}T{hm}").replace(tzinfo=LA).astimezone(UTC)


def messages(**filters) -> list[Message]:
    """Outbox rows, freshly read (other threads and processes commit them)."""
    db.session.commit()
    return list(db.session.scalars(select(Message).filter_by(**filters).order_by(Message.id)))


def by_kind(rows) -> dict[str, list[Message]]:
    out: dict[str, list[Message]] = {}
    for row in rows:
        out.setdefault(row.kind, []).append(row)
    return out


def dispatch():
    """One run of the dispatch job at the FixedClock's time, with no transaction left open."""
    db.session.commit()
    report = send_texts_job()
    db.session.commit()
    return report


def run_until(clock, until: dt.datetime, at=()) -> None:
    """Advance the clock from due time to due time up to ``until``, dispatching at each (and
    at the extra instants ``at``), as a worker running throughout would."""
    stops = sorted(set(at))
    for _ in range(200):
        db.session.commit()
        due = db.session.scalar(select(func.min(Message.send_at)).where(Message.status == "planned"))
        candidates = [t for t in stops if t > clock.now()]
        if due is not None and due <= until:
            candidates.append(max(due, clock.now()))
        nxt = min(candidates, default=None)
        if nxt is None or nxt > until:
            break
        clock.set(nxt)
        dispatch()
    else:
        raise AssertionError("run_until did not settle in 200 steps")
    if clock.now() < until:
        clock.set(until)
        dispatch()


def add_message(patient: Patient, *, send_at: dt.datetime, kind="reminder", body=None,
                status="planned", appointment_id=None, stale_at=None, key=None,
                commit=True, **extra) -> Message:
    """A row straight into the outbox (no booking), e.g. for webhook, lease and worker tests."""
    row = Message(patient_id=patient.id, appointment_id=appointment_id, kind=kind, priority=20,
                  body=body or f"Pasadena Clinic: text {key or ''} Questions: (626) 555-0100.",
                  to_phone=patient.phone, status=status, send_at=send_at, stale_at=stale_at,
                  dedupe_key=key or f"test:{kind}:{next(_KEYS)}", **extra)
    db.session.add(row)
    if commit:
        db.session.commit()
    return row


def sign(url: str, params: dict, token: str = AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


def signed_post(client, path: str, params: dict, *, token: str = AUTH_TOKEN,
                signature: str | None = None, sign_path: str | None = None):
    """POST a webhook as Twilio would: form fields, X-Twilio-Signature over PUBLIC + path.
    ``signature=""`` sends none; ``sign_path`` signs another URL (a replay)."""
    if signature is None:
        signature = sign(PUBLIC + (sign_path or path), params, token)
    headers = {"X-Twilio-Signature": signature} if signature else {}
    return client.post(path, data=params, headers=headers)


def status_callback(client, ref, sid: str, status: str, error_code=None, **kw):
    params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": ACCOUNT_SID,
              "From": FROM, "To": PHONE, "ApiVersion": "2010-04-01"}
    if error_code is not None:
        params["ErrorCode"] = str(error_code)
    return signed_post(client, f"{STATUS_PATH}?ref={ref}", params, **kw)


def assert_discreet(body: str) -> None:
    """A text names no treatment, drug or diagnosis."""
    assert not TREATMENT_WORDS.search(body), body
    assert find_forbidden(body) == [], body
