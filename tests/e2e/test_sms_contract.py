"""Contract: every text the service sends, sent by the real dispatch path, is a request
Twilio's own API description accepts (issue 4). Prism (tests/support/prism.py) serves that
description and answers 422 to any request Twilio would refuse, which dispatch records as a
permanent failure; so a row that ends "sent" is a request Prism validated and accepted.

Prism answers every valid request with the description's example Message, whose SID is
always the same ("SMaaaa..."), while messages.twilio_sid is unique. So the texts are sent
one per dispatch run, and after each run the test records the SID and clears it from the
row (UPDATE ... SET twilio_sid = NULL) before the next text goes.
Without Node.js the tests skip, except with CI=true, where they fail.
"""
import pytest
from sqlalchemy import update

from scheduler.extensions import db
from scheduler.models import Message
from tests.support import clinic as c
from tests.support.prism import prism_fixture
from tests.support.sms import (
    MG_SID, TUESDAY, book, dispatch, messages, sms_clinic, twilio_settings,
)

pytestmark = pytest.mark.slow

prism = pytest.fixture(scope="module")(prism_fixture)

SENDERS = {
    "from-number": {},
    "messaging-service": {"twilio_from_number": None, "twilio_messaging_service_sid": MG_SID},
}


@pytest.fixture(params=list(SENDERS))
def twilio(request, app, prism):
    with twilio_settings(app, prism.base_url, **SENDERS[request.param]) as settings:
        yield settings


def send_one_text(clock, at=None) -> Message:
    """Dispatch exactly one due text; check Prism accepted it; free its (shared) SID."""
    if at is not None:
        clock.set(at)
    report = dispatch()
    assert (report.claimed, report.sent) == (1, 1), (report, [
        (m.kind, m.status, m.reason) for m in messages() if m.status in ("failed", "planned")])
    (row,) = [m for m in messages(status="sent") if m.twilio_sid is not None]
    assert row.twilio_sid.startswith("SM") and len(row.twilio_sid) == 34
    sid = row.twilio_sid
    db.session.execute(update(Message).where(Message.id == row.id).values(twilio_sid=None))
    db.session.commit()
    row.sid_seen = sid
    return row


def test_every_kind_of_text_is_accepted_by_twilios_api(app, api, clock, twilio):
    clinic = sms_clinic()
    first = book(api, clinic)  # Mon 10:00: confirmation now, instructions, reminder
    plan = {m.kind: m.send_at for m in messages(appointment_id=first["id"])}

    sent = [send_one_text(clock),
            send_one_text(clock, plan["instructions"]),
            send_one_text(clock, plan["reminder"])]

    # Another patient (the first has had three texts today: the day's cap).
    other = c.patient(clinic.location, name="Second Patient", phone="+18055550112")
    c.commit()
    second = book(api, clinic, day=TUESDAY, patient_id=other.id)  # its confirmation is due now
    sent.append(send_one_text(clock))
    moved = api.patch(f"/appointments/{second['id']}", json={"start": c.local("2030-01-09", "10:00")},
                      as_="front_desk")
    assert moved.status_code == 200, moved.get_json()
    sent.append(send_one_text(clock))
    cancelled = api.post(f"/appointments/{second['id']}/cancel", json={"reason": "patient asked"},
                         as_="front_desk")
    assert cancelled.status_code == 200, cancelled.get_json()
    sent.append(send_one_text(clock))

    assert [m.kind for m in sent] == ["confirmation", "instructions", "reminder", "confirmation",
                                      "moved", "cancelled"]
    assert len({m.sid_seen for m in sent}) == 1  # Prism's example SID, every time
    assert messages(status="failed") == []
    for m in sent:
        assert m.status == "sent" and m.attempts == 1


@pytest.mark.parametrize("overrides, why", [
    ({"twilio_from_number": None, "twilio_messaging_service_sid": "MG123"}, "malformed MessagingServiceSid"),
    ({"public_base_url": "clinic example"}, "malformed StatusCallback URL"),
])
def test_a_request_twilio_would_refuse_fails_permanently(app, api, prism, overrides, why):
    # The control: Prism does refuse what Twilio would, so "sent" above means something.
    with twilio_settings(app, prism.base_url, **overrides):
        clinic = sms_clinic()
        appt = book(api, clinic)
        report = dispatch()
    assert (report.sent, report.failed) == (0, 1), why
    (row,) = messages(appointment_id=appt["id"], kind="confirmation")
    assert row.status == "failed" and "HTTP 422" in row.reason, (why, row.reason)
