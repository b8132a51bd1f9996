"""Logs (issue 6): one JSON object a line with the request id, and nothing above DEBUG that
names a patient, gives their phone number in any spelling, or quotes a text's body.

The whole front-desk flow runs with the log-only sender (no Twilio account, so texts go
to the log) and a signed inbound reply; every record of the 'scheduler' logger (which does
not propagate) and of the root logger is captured and checked.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import re

import pytest
from sqlalchemy import select

from scheduler.extensions import db
from scheduler.logs import JsonFormatter, RequestIdFilter
from scheduler.models import InboundMessage, Message
from tests.support import clinic as c
from tests.support.sms import AUTH_TOKEN, INBOUND_PATH, PUBLIC, STATUS_PATH, dispatch, signed_post

NAME = "Marisol Quintanilla-Vega"
FIRST, LAST = "Marisol", "Quintanilla"
E164 = "+18055550147"
SPELLINGS = ["+18055550147", "18055550147", "8055550147", "(805) 555-0147", "805-555-0147",
             "805.555.0147", "805 555 0147", "555-0147", "5550147", "+1 805-555-0147"]
REPLY = "Running late by ten minutes, sorry! Marisol"


class Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def captured(app, caplog):
    """Every record: the 'scheduler' tree at DEBUG (its own handler, it does not propagate)
    and the root logger (third-party libraries) through caplog."""
    scheduler_log = logging.getLogger("scheduler")
    level = scheduler_log.level
    handler = Capture()
    handler.addFilter(RequestIdFilter())
    scheduler_log.addHandler(handler)
    scheduler_log.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    try:
        yield handler.records, caplog
    finally:
        scheduler_log.removeHandler(handler)
        scheduler_log.setLevel(level)


@pytest.fixture
def log_only_texts(app):
    """No Twilio account (texts go to the log), but an auth token to sign webhooks with."""
    settings = app.extensions["settings"]
    app.extensions["settings"] = dataclasses.replace(
        settings, twilio_account_sid=None, twilio_auth_token=AUTH_TOKEN, public_base_url=PUBLIC)
    app.extensions.pop("sms_sender", None)
    yield
    app.extensions["settings"] = settings
    app.extensions.pop("sms_sender", None)


def rendered(record) -> str:
    """Everything a record could put in a log line: message, arguments, extras, JSON form."""
    parts = [record.getMessage(), repr(record.args), JsonFormatter().format(record)]
    for key in ("method", "path", "status", "endpoint"):
        parts.append(str(getattr(record, key, "")))
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


def leaks(text: str, bodies: list[str]) -> list[str]:
    found = [s for s in [NAME, FIRST, LAST, *SPELLINGS] if s in text]
    digits = re.sub(r"\D", "", text)
    if "8055550147" in digits:
        found.append("phone digits")
    # Bodies long enough to be a text rather than a keyword reply ("C", "STOP").
    found += [f"text body {b[:30]!r}" for b in bodies if len(b) >= 12 and b in text]
    return found


def run_the_front_desk_flow(api, location) -> list:
    """Create, find, book, text, hear back: every API response, in order."""
    responses = []
    patient = api.post("/patients", json={
        "name": NAME, "phone": "(805) 555-0147", "home_location_id": location.id, "sms_consent": True,
        "date_of_birth": "1985-04-12", "dosing_clearance_date": "2029-12-01"}, as_="front_desk")
    assert patient.status_code == 201, patient.get_json()
    pid = patient.get_json()["id"]
    responses.append(patient)
    found = api.get("/patients", query_string={"phone": "805-555-0147"}, as_="front_desk")
    assert [p["id"] for p in found.get_json()["items"]] == [pid]
    responses.append(found)
    responses.append(api.patch(f"/patients/{pid}", json={"name": NAME + " Jr"}, as_="front_desk"))
    body = {"patient_id": pid, "session_type": "ketamine_iv", "location_id": location.id,
            "start": c.local("2030-01-07", "10:00")}
    booked = api.post("/appointments", json=body, as_="front_desk")
    assert booked.status_code == 201, booked.get_json()
    responses.append(booked)
    refused = api.post("/appointments", json=body, as_="front_desk")  # the same slot again
    assert refused.status_code == 409
    responses.append(refused)
    invalid = api.post("/patients", json={"name": NAME, "phone": "805-555-01477", "home_location_id": location.id},
                       as_="front_desk")
    assert invalid.status_code == 422
    responses.append(invalid)

    report = dispatch()  # the log-only sender "sends" what is due
    assert report.sent >= 1, report
    sent = db.session.scalars(select(Message).where(Message.status == "sent")).first()
    responses.append(signed_post(api.client, f"{STATUS_PATH}?ref={sent.id}", {
        "MessageSid": sent.twilio_sid, "MessageStatus": "delivered", "To": E164}))
    reply = signed_post(api.client, INBOUND_PATH, {
        "MessageSid": "SM" + "7" * 32, "From": E164, "To": "+16265550100", "Body": REPLY})
    assert reply.status_code == 200
    confirm = signed_post(api.client, INBOUND_PATH, {
        "MessageSid": "SM" + "8" * 32, "From": E164, "To": "+16265550100", "Body": "C"})
    assert confirm.status_code == 200
    responses += [reply, confirm]
    responses.append(api.get("/messages", as_="front_desk"))
    responses.append(api.get("/inbound-messages", as_="front_desk"))
    responses.append(api.get("/appointments", query_string={"location_id": location.id, "date": "2030-01-07"},
                             as_="front_desk"))
    return responses


def test_no_patient_name_phone_or_text_body_in_logs_above_debug(app, api, captured, log_only_texts):
    records, caplog = captured
    loc = c.location("Pasadena")
    c.rooms(loc, "treatment", 1)
    c.provider("Dr. Rivera", ["prescriber"], at=loc)
    c.provider("Nurse Okafor", ["nurse"], at=loc)
    c.commit()

    run_the_front_desk_flow(api, loc)

    db.session.commit()
    bodies = [m.body for m in db.session.scalars(select(Message))]
    bodies += [m.body for m in db.session.scalars(select(InboundMessage))]
    assert REPLY in bodies and len(bodies) >= 3

    every = records + [r for r in caplog.records if not r.name.startswith("scheduler")]
    above_debug = [r for r in every if r.levelno > logging.DEBUG]
    assert len(above_debug) >= 10  # the access log at least
    for record in above_debug:
        assert not leaks(rendered(record), bodies), (record.name, record.levelname, rendered(record))
    # The capture would have seen a leak: the texts themselves are logged at DEBUG only.
    debug_text = "\n".join(rendered(r) for r in records if r.levelno == logging.DEBUG)
    assert any(b in debug_text for b in bodies if b != REPLY)
    sms_lines = [r.getMessage() for r in above_debug if r.name == "scheduler.adapters.sms"]
    assert sms_lines and all("*" in line for line in sms_lines)  # numbers masked


def test_every_api_log_line_carries_the_request_id_of_its_response(app, api, captured, log_only_texts):
    records, _ = captured
    loc = c.location("Pasadena")
    c.rooms(loc, "treatment", 1)
    c.provider("Dr. Rivera", ["prescriber"], at=loc)
    c.provider("Nurse Okafor", ["nurse"], at=loc)
    c.commit()
    responses = run_the_front_desk_flow(api, loc)
    chosen = api.get("/locations", headers={"X-Request-Id": "desk-7f3a-0001"})
    assert chosen.headers["X-Request-Id"] == "desk-7f3a-0001"  # a caller's id is kept
    responses.append(chosen)

    access = [r for r in records if r.name == "scheduler.access"]
    by_id = {r.request_id: r for r in access}
    assert len(by_id) == len(access)  # one line per request, each its own id
    for response in responses:
        rid = response.headers["X-Request-Id"]
        assert re.fullmatch(r"[0-9a-f]{32}|desk-7f3a-0001", rid), rid
        line = by_id[rid]
        assert line.status == response.status_code
        assert line.path == response.request.path
        entry = json.loads(JsonFormatter().format(line))
        assert entry["request_id"] == rid and entry["status"] == response.status_code
        assert set(entry) >= {"ts", "level", "logger", "msg", "request_id", "method", "path", "status",
                              "duration_ms", "endpoint"}
    # Every line logged while serving a request names it; none is left without one.
    api_lines = [r for r in records if r.name == "scheduler.access" and r.path.startswith("/api/")]
    assert api_lines and all(r.request_id not in ("-", "") for r in api_lines)


def test_query_strings_never_reach_the_access_log(app, api, captured):
    records, _ = captured
    api.get("/patients", query_string={"phone": E164})
    api.client.get("/calendar/providers/1.ics?token=secret-feed-token-123")
    lines = [rendered(r) for r in records if r.name == "scheduler.access"]
    assert len(lines) == 2
    assert not [line for line in lines if "805555" in line or "secret-feed-token" in line or "?" in line]


def test_log_lines_are_single_json_objects(app):
    record = logging.LogRecord("scheduler.access", logging.INFO, __file__, 1, "GET %s %s", ("/x", 200), None)
    record.request_id = "abc"
    record.path, record.status = "/x", 200
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["msg"] == "GET /x 200" and entry["request_id"] == "abc" and entry["level"] == "INFO"
