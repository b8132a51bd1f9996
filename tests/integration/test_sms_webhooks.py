"""Twilio's webhooks into the service: delivery status callbacks and patients' replies, each
signed as Twilio signs them (RequestValidator over PUBLIC_BASE_URL + path + query and the
form fields). Issue 4: signature checks, STOP/START/HELP/C flows, callbacks out of order.
"""
import datetime as dt
import uuid
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import func, select

from scheduler.extensions import db
from scheduler.models import Appointment, InboundMessage, Message, Patient
from scheduler.services.messaging.dispatch import LEASE, claim_due
from tests.conftest import NOW
from tests.support.fake_twilio import FakeTwilio
from tests.support.sms import (
    ACCOUNT_SID, AUTH_TOKEN, FROM, INBOUND_PATH, PHONE, PUBLIC, STATUS_PATH, TUESDAY, add_message,
    book, dispatch, local, messages, sign, signed_post, sms_clinic, status_callback,
    twilio_settings,
)


@pytest.fixture
def fake(app):
    with FakeTwilio() as server, twilio_settings(app, server.base_url):
        yield server


@pytest.fixture
def clinic(app, fake):
    return sms_clinic()


def sent_confirmation(api, clinic) -> Message:
    """Book, dispatch: the confirmation is 'sent' with the SID the fake gave it."""
    appt = book(api, clinic)
    assert dispatch().sent == 1
    (row,) = messages(appointment_id=appt["id"], kind="confirmation")
    assert row.status == "sent" and row.twilio_sid
    return row


def state(row_id):
    row = messages(id=row_id)[0]
    return row.status, row.twilio_sid, row.error_code


# ------------------------------------------------------------------ status callbacks

def test_status_moves_forward_only_and_duplicates_change_nothing(app, api, clock, clinic):
    row = sent_confirmation(api, clinic)
    sid = row.twilio_sid

    for status, expected in [("queued", "sent"), ("sent", "sent"), ("delivered", "delivered"),
                             ("sent", "delivered"), ("queued", "delivered"),
                             ("delivered", "delivered"), ("delivered", "delivered")]:
        clock.advance(seconds=5)
        response = status_callback(api.client, row.id, sid, status)
        assert response.status_code == 204, response.get_data(as_text=True)
        assert state(row.id) == (expected, sid, None), status
    assert messages(id=row.id)[0].sent_at == NOW


def test_a_late_failure_never_overwrites_delivered(app, api, clinic):
    row = sent_confirmation(api, clinic)
    status_callback(api.client, row.id, row.twilio_sid, "delivered")
    status_callback(api.client, row.id, row.twilio_sid, "undelivered", error_code=30003)
    assert state(row.id) == ("delivered", row.twilio_sid, None)


def test_undelivered_30003_is_requeued_while_useful(app, api, clock, fake, clinic):
    row = sent_confirmation(api, clinic)
    old_sid = row.twilio_sid

    clock.advance(minutes=1)
    assert status_callback(api.client, row.id, old_sid, "undelivered", error_code=30003).status_code == 204
    requeued = messages(id=row.id)[0]
    retry_at = requeued.send_at
    assert (requeued.status, requeued.error_code) == ("planned", 30003)
    assert clock.now() + dt.timedelta(seconds=15) <= retry_at <= clock.now() + dt.timedelta(seconds=30)
    assert "30003" in requeued.reason

    # Callbacks arrive in any order: a late "sent" (or a repeat) about the attempt that
    # failed must not mark the requeued text as sent, or it would never be retried.
    for status, code in [("sent", None), ("delivered", None), ("undelivered", 30003)]:
        status_callback(api.client, row.id, old_sid, status, error_code=code)
        again = messages(id=row.id)[0]
        assert (again.status, again.send_at, again.twilio_sid) == ("planned", retry_at, None), status

    clock.set(retry_at)
    assert dispatch().sent == 1
    resent = messages(id=row.id)[0]
    assert resent.status == "sent" and resent.twilio_sid == fake.messages[1]["sid"] != old_sid
    assert len(fake.requests) == 2

    # A callback about the old attempt is recognised as stale; the new one counts.
    status_callback(api.client, row.id, old_sid, "delivered")
    assert state(row.id) == ("sent", resent.twilio_sid, None)
    status_callback(api.client, row.id, resent.twilio_sid, "delivered")
    assert state(row.id)[:2] == ("delivered", resent.twilio_sid)


def test_undelivered_when_no_longer_useful_stays_undelivered(app, api, clinic):
    row = add_message(clinic.patient, send_at=NOW, status="sent", twilio_sid="SM" + "1" * 32,
                      sent_at=NOW, attempts=1, stale_at=NOW + dt.timedelta(seconds=10))
    status_callback(api.client, row.id, row.twilio_sid, "undelivered", error_code=30003)
    row = messages(id=row.id)[0]
    assert (row.status, row.error_code) == ("undelivered", 30003)
    assert "30003" in row.reason


@pytest.mark.parametrize("code", [30007, 30005, None])
def test_failed_is_final_with_its_error_code(app, api, clock, fake, clinic, code):
    row = sent_confirmation(api, clinic)
    status_callback(api.client, row.id, row.twilio_sid, "failed", error_code=code)
    assert state(row.id) == ("failed", row.twilio_sid, code)
    clock.advance(hours=1)
    dispatch()
    assert len(fake.requests) == 1
    assert db.session.get(Patient, clinic.patient.id).sms_opted_out is False
    failed = api.get("/messages?status=failed", as_="front_desk").get_json()["items"]
    assert [(m["id"], m["error_code"]) for m in failed] == [(row.id, code)]


@pytest.mark.parametrize("status", ["failed", "undelivered"])
def test_21610_in_a_callback_opts_the_patient_out(app, api, clock, fake, clinic, status):
    row = sent_confirmation(api, clinic)
    status_callback(api.client, row.id, row.twilio_sid, status, error_code=21610)
    assert state(row.id) == (status, row.twilio_sid, 21610)
    patient = db.session.get(Patient, clinic.patient.id)
    assert patient.sms_opted_out is True

    clock.set(local("2030-01-07", "10:00"))
    dispatch()
    assert len(fake.requests) == 1
    assert {r.reason for r in messages(status="skipped")} == {"opted_out"}


def test_a_callback_records_the_sid_when_the_worker_died_before_saving_it(app, api, clock, fake, clinic):
    row = add_message(clinic.patient, send_at=NOW, stale_at=NOW + dt.timedelta(days=1))
    assert claim_due(NOW, "dead") == [row.id]  # it sent the text, then died before saving
    sid = "SM" + uuid.uuid4().hex

    clock.advance(seconds=3)
    assert status_callback(api.client, row.id, sid, "queued").status_code == 204

    row = messages(id=row.id)[0]
    assert (row.status, row.twilio_sid, row.sent_at, row.lease_until) == ("sent", sid, clock.now(), None)
    clock.set(NOW + LEASE + dt.timedelta(minutes=1))  # the dead worker's lease is long gone
    assert dispatch().claimed == 0
    assert fake.requests == []
    status_callback(api.client, row.id, sid, "delivered")
    assert state(row.id) == ("delivered", sid, None)


def test_a_callback_for_an_unknown_text_changes_nothing(app, api, clinic):
    response = status_callback(api.client, 999999, "SM" + "2" * 32, "delivered")
    assert response.status_code == 204
    assert messages() == []


def snapshot(row_id):
    row = messages(id=row_id)[0]
    return (row.status, row.twilio_sid, row.error_code, row.reason, row.send_at, row.updated_at)


@pytest.mark.parametrize("how", ["missing", "wrong_token", "other_ref", "tampered", "garbage"])
def test_a_bad_status_signature_is_refused_and_changes_nothing(app, api, clock, clinic, how):
    row = sent_confirmation(api, clinic)
    before = snapshot(row.id)
    clock.advance(minutes=1)
    params = {"MessageSid": row.twilio_sid, "MessageStatus": "failed", "ErrorCode": "21610",
              "AccountSid": ACCOUNT_SID}
    path = f"{STATUS_PATH}?ref={row.id}"
    if how == "missing":
        response = signed_post(api.client, path, params, signature="")
    elif how == "wrong_token":
        response = signed_post(api.client, path, params, token="not-the-token")
    elif how == "other_ref":  # a valid signature for another text's callback, replayed here
        response = signed_post(api.client, path, params, sign_path=f"{STATUS_PATH}?ref={row.id + 1}")
    elif how == "tampered":
        signature = sign(PUBLIC + path, {**params, "MessageStatus": "delivered"})
        response = signed_post(api.client, path, params, signature=signature)
    else:
        response = signed_post(api.client, path, params, signature="bm90IGEgc2lnbmF0dXJl")
    assert response.status_code == 403
    assert snapshot(row.id) == before
    assert db.session.get(Patient, clinic.patient.id).sms_opted_out is False


# ------------------------------------------------------------------ inbound replies

def reply(api, body, sid=None, from_phone=PHONE, **kw):
    params = {"MessageSid": sid or "SM" + uuid.uuid4().hex, "AccountSid": ACCOUNT_SID,
              "From": from_phone, "To": FROM, "Body": body, "NumMedia": "0"}
    return signed_post(api.client, INBOUND_PATH, params, **kw)


def twiml_messages(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/xml"
    root = ET.fromstring(response.get_data(as_text=True))
    assert root.tag == "Response"
    return [m.text for m in root.findall("Message")]


def patient_state(clinic):
    db.session.commit()
    p = db.session.get(Patient, clinic.patient.id)
    db.session.refresh(p)
    return p.sms_opted_out


def unhandled(api):
    response = api.get("/api/v1/inbound-messages?handled=false", as_="front_desk")
    assert response.status_code == 200
    return response.get_json()["items"]


@pytest.mark.parametrize("word", ["STOP", "stop", "Stop!", "UNSUBSCRIBE", " stopall ", "Quit."])
def test_stop_words_opt_out_and_dispatch_then_skips(app, api, clock, fake, clinic, word):
    row = add_message(clinic.patient, send_at=NOW + dt.timedelta(minutes=5),
                      stale_at=NOW + dt.timedelta(days=1))
    assert twiml_messages(reply(api, word)) == []  # Twilio itself confirms an opt-out
    assert patient_state(clinic) is True
    assert db.session.get(Patient, clinic.patient.id).sms_opted_out_at == NOW
    assert unhandled(api) == []

    clock.advance(minutes=5)
    assert dispatch().skipped == 1
    assert (messages(id=row.id)[0].status, messages(id=row.id)[0].reason) == ("skipped", "opted_out")
    assert fake.requests == []


def test_cancel_opts_out_and_is_kept_for_the_front_desk(app, api, clinic):
    appt = book(api, clinic)
    assert twiml_messages(reply(api, "CANCEL")) == []
    assert patient_state(clinic) is True
    (item,) = unhandled(api)
    assert (item["body"], item["action"], item["handled"], item["patient_id"]) == (
        "CANCEL", "opt_out", False, clinic.patient.id)
    # The appointment itself is not cancelled by a text: a person decides.
    assert api.get(f"/appointments/{appt['id']}", as_="front_desk").get_json()["status"] == "booked"


@pytest.mark.parametrize("word", ["START", "unstop", "Yes"])
def test_start_or_yes_opts_back_in(app, api, clinic, word):
    appt = book(api, clinic)
    patient = db.session.get(Patient, clinic.patient.id)
    patient.sms_opted_out = True
    db.session.commit()

    assert twiml_messages(reply(api, word)) == []
    assert patient_state(clinic) is False
    # YES from an opted-out patient means "text me again", not "I confirm".
    assert api.get(f"/appointments/{appt['id']}", as_="front_desk").get_json()["confirmed"] is False
    assert unhandled(api) == []


@pytest.mark.parametrize("word", ["C", "c", "CONFIRM", "yes", "Confirm!"])
def test_confirm_words_confirm_the_next_appointment(app, api, clinic, word):
    later = book(api, clinic, day=TUESDAY)
    sooner = book(api, clinic)  # Monday: the next one

    (answer,) = twiml_messages(reply(api, word))

    assert "Pasadena Clinic" in answer and "Mon Jan 7" in answer and "10:00 AM" in answer
    assert "confirmed" in answer
    got = {a["id"]: a for a in api.get("/appointments", as_="front_desk").get_json()["items"]}
    assert got[sooner["id"]]["confirmed"] is True
    assert got[sooner["id"]]["confirmed_at"] is not None
    assert got[later["id"]]["confirmed"] is False
    assert patient_state(clinic) is False
    assert unhandled(api) == []


def test_confirm_without_an_appointment_waits_for_the_front_desk(app, api, clinic):
    assert twiml_messages(reply(api, "C")) == []
    (item,) = unhandled(api)
    assert (item["body"], item["action"]) == ("C", "other")


def test_help_answers_with_the_clinic_phone(app, api, clinic):
    (answer,) = twiml_messages(reply(api, "HELP"))
    assert "(626) 555-0100" in answer and "Pasadena Clinic" in answer
    assert patient_state(clinic) is False


def test_anything_else_is_kept_for_the_front_desk(app, api, clinic):
    appt = book(api, clinic)
    assert twiml_messages(reply(api, "Can I come at 3 instead? Stop by later")) == []
    (item,) = unhandled(api)
    assert (item["action"], item["handled"], item["body"]) == (
        "other", False, "Can I come at 3 instead? Stop by later")
    assert patient_state(clinic) is False
    assert api.get(f"/appointments/{appt['id']}", as_="front_desk").get_json()["confirmed"] is False


def test_the_same_message_sid_is_processed_once(app, api, clinic):
    stop_sid = "SM" + uuid.uuid4().hex
    reply(api, "STOP", sid=stop_sid)
    assert patient_state(clinic) is True
    reply(api, "START")
    assert patient_state(clinic) is False

    # Twilio retries the STOP webhook (e.g. our answer timed out): it must not opt out again.
    assert twiml_messages(reply(api, "STOP", sid=stop_sid)) == []
    assert patient_state(clinic) is False
    assert db.session.scalar(select(func.count()).select_from(InboundMessage)) == 2

    other_sid = "SM" + uuid.uuid4().hex
    reply(api, "running late", sid=other_sid)
    reply(api, "running late", sid=other_sid)
    assert [i["body"] for i in unhandled(api)] == ["running late"]


@pytest.mark.parametrize("how", ["missing", "wrong_token", "tampered"])
def test_a_bad_inbound_signature_is_refused_and_changes_nothing(app, api, clinic, how):
    appt = book(api, clinic)
    params = {"MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": ACCOUNT_SID, "From": PHONE,
              "To": FROM, "Body": "STOP"}
    if how == "missing":
        response = signed_post(api.client, INBOUND_PATH, params, signature="")
    elif how == "wrong_token":
        response = signed_post(api.client, INBOUND_PATH, params, token=AUTH_TOKEN + "x")
    else:
        signature = sign(PUBLIC + INBOUND_PATH, {**params, "Body": "hello"})
        response = signed_post(api.client, INBOUND_PATH, params, signature=signature)
    assert response.status_code == 403
    assert patient_state(clinic) is False
    assert db.session.scalar(select(func.count()).select_from(InboundMessage)) == 0
    assert db.session.get(Appointment, appt["id"]).confirmed_at is None
