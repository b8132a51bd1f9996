"""Hostile inputs, nothing lost (issue 6): per resource, wrong types, huge strings, NUL bytes,
SQL and HTML fragments, emoji, instants far in the past and future, reversed ranges, the
31-day slot window, unknown ids and duplicate keys.

Every refused request answers a 4xx in the documented format ({"code", "message",
"errors"} as JSON) and leaves every table's row count as it was; the valid ones (SQL, HTML
and emoji stored verbatim) change only what they should, and nothing is ever executed.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, inspect, select, text

from scheduler.extensions import db
from scheduler.models import Location, Patient, Provider
from tests.support import clinic as c
from tests.support.sms import MONDAY, book, sms_clinic

LA = "America/Los_Angeles"
HUGE = "x" * 100_000  # 100 KB: over every field's limit, under the 1 MB body limit
MEGABYTE = "x" * (1024 * 1024 + 1)
NUL = "Pasa\x00dena"
SQL = "Robert'); DROP TABLE patients; --"
SQL_OR = "' OR '1'='1"
HTML = '<script>alert("x")</script><img src=x onerror=alert(1)>'
EMOJI = "Clinic 🌿✨ Zoë 🧘‍♀️"
YEAR_1 = "0001-01-01T00:00:00Z"
YEAR_9999 = "9999-12-31T23:59:59Z"
UNKNOWN = 999_999


def table_counts() -> dict[str, int]:
    db.session.commit()
    with db.engine.connect() as conn:
        names = inspect(conn).get_table_names()
        return {name: conn.execute(text(f'SELECT COUNT(*) FROM "{name}"')).scalar() for name in names}


def assert_refused(response, status, code=None, fields=()):
    """A 4xx in the documented format: JSON {"code", "message", "errors"}."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    assert response.mimetype == "application/json", response.mimetype
    body = response.get_json()
    assert set(body) == {"code", "message", "errors"}, body
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errors"], dict)
    if code:
        assert body["code"] == code, body
    for field in fields:
        assert field in body["errors"], (field, body)
    return body


@pytest.fixture
def world(app, api):
    """A small clinic: one location with rooms, staff, a patient, a booking; the ids."""
    clinic = sms_clinic()
    c.rooms(c.location("Glendale"), "treatment", 1)
    c.commit()
    appt = book(api, clinic, day=MONDAY, at="10:00")
    provider = appt["provider"]["id"]
    rule = api.post(f"/providers/{provider}/availability", json={
        "location_id": clinic.location.id, "weekday": "sat", "start_time": "19:00", "end_time": "21:00"})
    off = api.post(f"/providers/{provider}/time-off", json={
        "start": "2030-02-01T09:00:00-08:00", "end": "2030-02-01T17:00:00-08:00"})
    sub = api.post("/webhook-subscriptions", json={"url": "https://hooks.example.com/hook", "events": ["*"]})
    cal = api.post(f"/providers/{provider}/external-calendars",
                   json={"kind": "ics", "url": "https://calendar.example.com/cal.ics"})
    token = api.post("/calendar-tokens", json={"provider_id": provider})
    assert {rule.status_code, off.status_code, sub.status_code, cal.status_code, token.status_code} == {201}
    return {"loc": clinic.location.id, "room": clinic.treatment_room.id, "prov": provider,
            "patient": clinic.patient.id, "appt": appt["id"], "rule": rule.get_json()["id"],
            "off": off.get_json()["id"], "sub": sub.get_json()["id"], "cal": cal.get_json()["id"],
            "token": token.get_json()["id"], "unknown": UNKNOWN}


def location_body(**overrides):
    return {"name": "Santa Barbara", "slug": "santa-barbara", "timezone": LA, "state": "CA",
            "phone": "+18055550100", "sms_display_name": "SB Clinic", "address": "1 Demo Way",
            "opening_hours": {"mon": [["08:00", "18:00"]]}, "monitoring_ratio": 3, **overrides}


def provider_body(**overrides):
    return {"name": "Dr. Maya Chen", "capabilities": ["prescriber"], "licensed_states": ["CA"], **overrides}


def patient_body(w, **overrides):
    return {"name": "Jordan Lee", "phone": "+18055550123", "home_location_id": w["loc"],
            "sms_consent": True, **overrides}


def booking_body(w, **overrides):
    return {"patient_id": w["patient"], "session_type": "ketamine_iv", "location_id": w["loc"],
            "start": c.local("2030-01-09", "10:00"), **overrides}


def rule_body(w, **overrides):
    return {"location_id": w["loc"], "weekday": "sun", "start_time": "19:00", "end_time": "21:00",
            **overrides}


def off_body(**overrides):
    return {"start": "2030-03-01T09:00:00-08:00", "end": "2030-03-01T17:00:00-08:00", **overrides}


def slot_query(w, **overrides):
    query = {"location_id": w["loc"], "session_type": "ketamine_iv",
             "start": "2030-01-07T00:00:00-08:00", "end": "2030-01-08T00:00:00-08:00", **overrides}
    return {k: v for k, v in query.items() if v is not None}


def sub_body(**overrides):
    return {"url": "https://hooks.example.com/in", "events": ["*"], **overrides}


def cal_body(**overrides):
    return {"kind": "ics", "url": "https://calendar.example.com/me.ics", **overrides}


# (id, method, path, request(world) -> kwargs, status, code, fields named in errors)
J = lambda f: (lambda w: {"json": f(w)})  # noqa: E731
Q = lambda f: (lambda w: {"query_string": f(w)})  # noqa: E731
NONE = lambda w: {}  # noqa: E731

CASES = [
    # ---- locations
    ("location name wrong type", "POST", "/locations", J(lambda w: location_body(name=123)), 422, None, ["name"]),
    ("location ratio wrong type", "POST", "/locations", J(lambda w: location_body(monitoring_ratio="three")), 422, None, ["monitoring_ratio"]),
    ("location hours wrong type", "POST", "/locations", J(lambda w: location_body(opening_hours=[["08:00", "18:00"]])), 422, None, ["opening_hours"]),
    ("location hours reversed", "POST", "/locations", J(lambda w: location_body(opening_hours={"mon": [["18:00", "08:00"]]})), 422, None, ["opening_hours"]),
    ("location body not an object", "POST", "/locations", J(lambda w: [location_body()]), 422, None, []),
    ("location 100 KB name", "POST", "/locations", J(lambda w: location_body(name=HUGE)), 422, None, ["name"]),
    ("location 1 MB body", "POST", "/locations", J(lambda w: location_body(address=MEGABYTE)), 413, "payload_too_large", []),
    ("location NUL in name", "POST", "/locations", J(lambda w: location_body(name=NUL)), 422, None, ["name"]),
    ("location NUL in address", "POST", "/locations", J(lambda w: location_body(address="1 Main\x00St")), 422, None, ["address"]),
    ("location SQL in slug", "POST", "/locations", J(lambda w: location_body(slug=SQL)), 422, None, ["slug"]),
    ("location HTML in timezone", "POST", "/locations", J(lambda w: location_body(timezone=HTML)), 422, None, ["timezone"]),
    ("location duplicate slug", "POST", "/locations", J(lambda w: location_body(slug="pasadena")), 409, "duplicate", []),
    ("location unknown id", "GET", "/locations/{unknown}", NONE, 404, "not_found", []),
    ("location patch unknown id", "PATCH", "/locations/{unknown}", J(lambda w: {"name": "X"}), 404, "not_found", []),
    ("location patch NUL", "PATCH", "/locations/{loc}", J(lambda w: {"sms_display_name": "A\x00B"}), 422, None, ["sms_display_name"]),
    ("location patch duplicate slug", "PATCH", "/locations/{loc}", J(lambda w: {"slug": "glendale"}), 409, "duplicate", []),
    ("location id beyond any column", "GET", "/locations/99999999999999999999", NONE, 404, "not_found", []),
    ("malformed JSON", "POST", "/locations", lambda w: {"data": '{"name": ', "content_type": "application/json"}, 400, "malformed_json", []),
    ("form body instead of JSON", "POST", "/locations", lambda w: {"data": {"name": "x"}}, 415, "unsupported_media_type", []),
    # ---- rooms
    ("room kind unknown", "POST", "/locations/{loc}/rooms", J(lambda w: {"name": "Sauna", "kind": "sauna"}), 422, None, ["kind"]),
    ("room name wrong type", "POST", "/locations/{loc}/rooms", J(lambda w: {"name": ["a"], "kind": "treatment"}), 422, None, ["name"]),
    ("room 100 KB name", "POST", "/locations/{loc}/rooms", J(lambda w: {"name": HUGE, "kind": "treatment"}), 422, None, ["name"]),
    ("room NUL in name", "POST", "/locations/{loc}/rooms", J(lambda w: {"name": "Room\x001", "kind": "treatment"}), 422, None, ["name"]),
    ("room of unknown location", "POST", "/locations/{unknown}/rooms", J(lambda w: {"name": "A", "kind": "treatment"}), 404, "not_found", []),
    ("room unknown id", "PATCH", "/rooms/{unknown}", J(lambda w: {"name": "A"}), 404, "not_found", []),
    ("room active wrong type", "PATCH", "/rooms/{room}", J(lambda w: {"active": "perhaps"}), 422, None, ["active"]),
    # ---- providers
    ("provider capabilities not a list", "POST", "/providers", J(lambda w: provider_body(capabilities="prescriber")), 422, None, ["capabilities"]),
    ("provider unknown state", "POST", "/providers", J(lambda w: provider_body(licensed_states=["XX"])), 422, None, ["licensed_states"]),
    ("provider 100 KB name", "POST", "/providers", J(lambda w: provider_body(name=HUGE)), 422, None, ["name"]),
    ("provider NUL in name", "POST", "/providers", J(lambda w: provider_body(name="Dr.\x00Who")), 422, None, ["name"]),
    ("provider SQL as capability", "POST", "/providers", J(lambda w: provider_body(capabilities=[SQL_OR])), 422, None, ["capabilities"]),
    ("provider unknown id", "GET", "/providers/{unknown}", NONE, 404, "not_found", []),
    # ---- availability
    ("rule weekday unknown", "POST", "/providers/{prov}/availability", J(lambda w: rule_body(w, weekday="funday")), 422, None, ["weekday"]),
    ("rule time wrong type", "POST", "/providers/{prov}/availability", J(lambda w: rule_body(w, start_time=800)), 422, None, ["start_time"]),
    ("rule reversed times", "POST", "/providers/{prov}/availability", J(lambda w: rule_body(w, start_time="21:00", end_time="19:00")), 422, None, ["end_time"]),
    ("rule reversed validity", "POST", "/providers/{prov}/availability", J(lambda w: rule_body(w, valid_from="2030-06-01", valid_until="2030-01-01")), 422, None, ["valid_until"]),
    ("rule valid from year 1", "POST", "/providers/{prov}/availability", J(lambda w: rule_body(w, valid_from="0001-01-01")), 422, None, ["valid_from"]),
    ("rule valid until year 9999", "POST", "/providers/{prov}/availability", J(lambda w: rule_body(w, valid_until="9999-12-31")), 422, None, ["valid_until"]),
    ("rule unknown location", "POST", "/providers/{prov}/availability", J(lambda w: rule_body(w, location_id=UNKNOWN)), 422, None, ["location_id"]),
    ("rule of unknown provider", "POST", "/providers/{unknown}/availability", J(lambda w: rule_body(w)), 404, "not_found", []),
    ("rule overlapping", "POST", "/providers/{prov}/availability", J(lambda w: rule_body(w, weekday="sat")), 409, "rule_overlap", []),
    ("rule unknown id", "DELETE", "/providers/{prov}/availability/{unknown}", NONE, 404, "not_found", []),
    # ---- time off
    ("time off year 1", "POST", "/providers/{prov}/time-off", J(lambda w: off_body(start=YEAR_1)), 422, None, ["start"]),
    ("time off year 9999", "POST", "/providers/{prov}/time-off", J(lambda w: off_body(end=YEAR_9999)), 422, None, ["end"]),
    ("time off reversed", "POST", "/providers/{prov}/time-off", J(lambda w: off_body(start="2030-03-02T09:00:00Z", end="2030-03-01T09:00:00Z")), 422, None, ["end"]),
    ("time off without offset", "POST", "/providers/{prov}/time-off", J(lambda w: off_body(start="2030-03-01T09:00:00")), 422, None, ["start"]),
    ("time off wrong type", "POST", "/providers/{prov}/time-off", J(lambda w: off_body(start=1_900_000_000)), 422, None, ["start"]),
    ("time off 100 KB reason", "POST", "/providers/{prov}/time-off", J(lambda w: off_body(reason=HUGE)), 422, None, ["reason"]),
    ("time off NUL in reason", "POST", "/providers/{prov}/time-off", J(lambda w: off_body(reason="a\x00b")), 422, None, ["reason"]),
    ("time off unknown provider", "POST", "/providers/{unknown}/time-off", J(lambda w: off_body()), 404, "not_found", []),
    ("time off unknown id", "DELETE", "/providers/{prov}/time-off/{unknown}", NONE, 404, "not_found", []),
    # ---- session types
    ("session type minutes wrong type", "PATCH", "/session-types/ketamine_iv", J(lambda w: {"administering_minutes": "forty"}), 422, None, ["administering_minutes"]),
    ("session type minutes negative", "PATCH", "/session-types/ketamine_iv", J(lambda w: {"monitoring_minutes": -1}), 422, None, ["monitoring_minutes"]),
    ("session type 100 KB name", "PATCH", "/session-types/ketamine_iv", J(lambda w: {"name": HUGE}), 422, None, ["name"]),
    ("session type NUL in name", "PATCH", "/session-types/ketamine_iv", J(lambda w: {"name": "IV\x00"}), 422, None, ["name"]),
    ("session type unknown code", "GET", "/session-types/no_such_type", NONE, 404, "not_found", []),
    ("session type SQL as code", "GET", "/session-types/x' OR '1'='1", NONE, 404, "not_found", []),
    ("session type NUL in code", "GET", "/session-types/keta%00mine_iv", NONE, 404, "not_found", []),
    # ---- patients
    ("patient phone not a phone", "POST", "/patients", J(lambda w: patient_body(w, phone="call me maybe")), 422, None, ["phone"]),
    ("patient phone wrong type", "POST", "/patients", J(lambda w: patient_body(w, phone=8055550123)), 422, None, ["phone"]),
    ("patient 100 KB name", "POST", "/patients", J(lambda w: patient_body(w, name=HUGE)), 422, None, ["name"]),
    ("patient NUL in name", "POST", "/patients", J(lambda w: patient_body(w, name="Jo\x00rdan")), 422, None, ["name"]),
    ("patient born in year 1", "POST", "/patients", J(lambda w: patient_body(w, date_of_birth="0001-01-01")), 422, None, ["date_of_birth"]),
    ("patient born in 9999", "POST", "/patients", J(lambda w: patient_body(w, date_of_birth="9999-12-31")), 422, None, ["date_of_birth"]),
    ("patient cleared in 9999", "POST", "/patients", J(lambda w: patient_body(w, dosing_clearance_date="9999-12-31")), 422, None, ["dosing_clearance_date"]),
    ("patient unknown home location", "POST", "/patients", J(lambda w: patient_body(w, home_location_id=UNKNOWN)), 422, None, ["home_location_id"]),
    ("patient sets opted out", "POST", "/patients", J(lambda w: patient_body(w, sms_opted_out=True)), 422, None, ["sms_opted_out"]),
    ("patient consent wrong type", "PATCH", "/patients/{patient}", J(lambda w: {"sms_consent": "yes please"}), 422, None, ["sms_consent"]),
    ("patient unknown id", "GET", "/patients/{unknown}", NONE, 404, "not_found", []),
    ("patient search SQL in phone", "GET", "/patients", Q(lambda w: {"phone": SQL_OR}), 422, None, ["phone"]),
    ("patient list forged cursor beyond any id", "GET", "/patients", Q(lambda w: {"cursor": "aWQ6OTk5OTk5OTk5OTk5OTk5OTk5OTk"}), 422, None, ["cursor"]),
    ("patient search NUL in cursor", "GET", "/patients", Q(lambda w: {"cursor": "a\x00b"}), 422, None, ["cursor"]),
    # ---- appointments
    ("booking start year 1", "POST", "/appointments", J(lambda w: booking_body(w, start=YEAR_1)), 422, None, ["start"]),
    ("booking start year 9999", "POST", "/appointments", J(lambda w: booking_body(w, start=YEAR_9999)), 422, None, ["start"]),
    ("booking start before year 1 in UTC", "POST", "/appointments", J(lambda w: booking_body(w, start="0001-01-01T00:00:00+00:01")), 422, None, ["start"]),
    ("booking start after 9999 in UTC", "POST", "/appointments", J(lambda w: booking_body(w, start="9999-12-31T23:59:00-00:01")), 422, None, ["start"]),
    ("booking start without offset", "POST", "/appointments", J(lambda w: booking_body(w, start="2030-01-09T10:00:00")), 422, None, ["start"]),
    ("booking patient wrong type", "POST", "/appointments", J(lambda w: booking_body(w, patient_id="one")), 422, None, ["patient_id"]),
    ("booking patient id beyond a column", "POST", "/appointments", J(lambda w: booking_body(w, patient_id=2**64)), 422, None, ["patient_id"]),
    ("booking unknown patient", "POST", "/appointments", J(lambda w: booking_body(w, patient_id=UNKNOWN)), 422, None, ["patient_id"]),
    ("booking HTML as session type", "POST", "/appointments", J(lambda w: booking_body(w, session_type=HTML[:40])), 422, None, ["session_type"]),
    ("booking 100 KB notes", "POST", "/appointments", J(lambda w: booking_body(w, notes=HUGE)), 422, None, ["notes"]),
    ("booking NUL in notes", "POST", "/appointments", J(lambda w: booking_body(w, notes="a\x00b")), 422, None, ["notes"]),
    ("booking the taken slot", "POST", "/appointments", J(lambda w: booking_body(w, start=c.local(MONDAY, "10:00"))), 409, None, []),
    ("move to year 9999", "PATCH", "/appointments/{appt}", J(lambda w: {"start": YEAR_9999}), 422, None, ["start"]),
    ("cancel without reason", "POST", "/appointments/{appt}/cancel", J(lambda w: {}), 422, None, ["reason"]),
    ("cancel 100 KB reason", "POST", "/appointments/{appt}/cancel", J(lambda w: {"reason": HUGE}), 422, None, ["reason"]),
    ("complete before check-in", "POST", "/appointments/{appt}/complete", NONE, 409, "invalid_transition", []),
    ("appointment unknown id", "GET", "/appointments/{unknown}", NONE, 404, "not_found", []),
    ("day sheet without location", "GET", "/appointments", Q(lambda w: {"date": "2030-01-07"}), 422, None, ["date"]),
    ("day sheet year 1", "GET", "/appointments", Q(lambda w: {"date": "0001-01-01", "location_id": w["loc"]}), 422, None, ["date"]),
    ("day sheet year 9999", "GET", "/appointments", Q(lambda w: {"date": "9999-12-31", "location_id": w["loc"]}), 422, None, ["date"]),
    ("day sheet unknown status", "GET", "/appointments", Q(lambda w: {"status": "<b>booked</b>"}), 422, None, ["status"]),
    # ---- slots
    ("slots over 31 days", "GET", "/slots", Q(lambda w: slot_query(w, end="2030-02-08T00:00:00-08:00")), 422, None, ["end"]),
    ("slots reversed range", "GET", "/slots", Q(lambda w: slot_query(w, start="2030-01-08T00:00:00-08:00", end="2030-01-07T00:00:00-08:00")), 422, None, ["end"]),
    ("slots year 1", "GET", "/slots", Q(lambda w: slot_query(w, start=YEAR_1)), 422, None, ["start"]),
    ("slots year 9999", "GET", "/slots", Q(lambda w: slot_query(w, end=YEAR_9999)), 422, None, ["end"]),
    ("slots location wrong type", "GET", "/slots", Q(lambda w: slot_query(w, location_id="pasadena")), 422, None, ["location_id"]),
    ("slots unknown location", "GET", "/slots", Q(lambda w: slot_query(w, location_id=UNKNOWN)), 422, None, ["location_id"]),
    ("slots unknown session type", "GET", "/slots", Q(lambda w: slot_query(w, session_type=SQL_OR)), 422, None, ["session_type"]),
    ("slots NUL in session type", "GET", "/slots", Q(lambda w: slot_query(w, session_type="ketamine\x00iv")), 422, None, ["session_type"]),
    # ---- webhook subscriptions
    ("subscription javascript URL", "POST", "/webhook-subscriptions", J(lambda w: sub_body(url="javascript:alert(1)")), 422, None, ["url"]),
    ("subscription 100 KB URL", "POST", "/webhook-subscriptions", J(lambda w: sub_body(url="https://a.example.com/" + HUGE)), 422, None, ["url"]),
    ("subscription NUL in URL", "POST", "/webhook-subscriptions", J(lambda w: sub_body(url="https://a.example.com/\x00")), 422, None, ["url"]),
    ("subscription unknown event", "POST", "/webhook-subscriptions", J(lambda w: sub_body(events=["appointment.exploded"])), 422, None, ["events"]),
    ("subscription events wrong type", "POST", "/webhook-subscriptions", J(lambda w: sub_body(events="*")), 422, None, ["events"]),
    ("subscription no events", "POST", "/webhook-subscriptions", J(lambda w: sub_body(events=[])), 422, None, ["events"]),
    ("subscription sets its secret", "POST", "/webhook-subscriptions", J(lambda w: sub_body(secret="mine")), 422, None, ["secret"]),
    ("subscription unknown id", "GET", "/webhook-subscriptions/{unknown}", NONE, 404, "not_found", []),
    ("subscription delete unknown id", "DELETE", "/webhook-subscriptions/{unknown}", NONE, 404, "not_found", []),
    ("subscription replay bad cursor", "POST", "/webhook-subscriptions/{sub}/replay", J(lambda w: {"since": "'; --"}), 422, None, ["since"]),
    # ---- external calendars
    ("calendar kind unknown", "POST", "/providers/{prov}/external-calendars", J(lambda w: cal_body(kind="exchange")), 422, None, ["kind"]),
    ("calendar file URL", "POST", "/providers/{prov}/external-calendars", J(lambda w: cal_body(url="file:///etc/passwd")), 422, None, ["url"]),
    ("calendar 100 KB password", "POST", "/providers/{prov}/external-calendars", J(lambda w: cal_body(kind="caldav", password=HUGE)), 422, None, ["password"]),
    ("calendar NUL in username", "POST", "/providers/{prov}/external-calendars", J(lambda w: cal_body(kind="caldav", username="a\x00b")), 422, None, ["username"]),
    ("calendar ICS with credentials", "POST", "/providers/{prov}/external-calendars", J(lambda w: cal_body(username="me", password="pw")), 422, None, ["username"]),
    ("calendar of unknown provider", "POST", "/providers/{unknown}/external-calendars", J(lambda w: cal_body()), 404, "not_found", []),
    ("calendar unknown id", "DELETE", "/providers/{prov}/external-calendars/{unknown}", NONE, 404, "not_found", []),
    ("calendar of another provider", "POST", "/providers/{unknown}/external-calendars/{cal}/sync", NONE, 404, "not_found", []),
    # ---- calendar tokens
    ("token without subject", "POST", "/calendar-tokens", J(lambda w: {}), 422, None, ["_schema"]),
    ("token with two subjects", "POST", "/calendar-tokens", J(lambda w: {"provider_id": w["prov"], "room_id": w["room"]}), 422, None, ["_schema"]),
    ("token subject wrong type", "POST", "/calendar-tokens", J(lambda w: {"provider_id": "me"}), 422, None, ["provider_id"]),
    ("token unknown provider", "POST", "/calendar-tokens", J(lambda w: {"provider_id": UNKNOWN}), 422, None, ["provider_id"]),
    ("token unknown id", "DELETE", "/calendar-tokens/{unknown}", NONE, 404, "not_found", []),
    # ---- busy and changes
    ("busy reversed range", "GET", "/providers/{prov}/busy", Q(lambda w: {"start": "2030-01-08T00:00:00Z", "end": "2030-01-07T00:00:00Z"}), 422, None, ["end"]),
    ("busy year 9999", "GET", "/providers/{prov}/busy", Q(lambda w: {"start": "2030-01-07T00:00:00Z", "end": YEAR_9999}), 422, None, ["end"]),
    ("changes cursor beyond any id", "GET", "/changes", Q(lambda w: {"since": "aWQ6OTk5OTk5OTk5OTk5OTk5OTk5OTk"}), 422, None, ["since"]),
    ("changes forged cursor", "GET", "/changes", Q(lambda w: {"since": "<script>"}), 422, None, ["since"]),
]


@pytest.mark.parametrize("name,method,path,request_of,status,code,fields", CASES, ids=[case[0] for case in CASES])
def test_hostile_input_is_refused_in_the_error_format_and_changes_nothing(
        api, world, name, method, path, request_of, status, code, fields):
    before = table_counts()
    response = api.request(method, path.format(**world), **request_of(world))
    assert_refused(response, status, code, fields)
    assert table_counts() == before


def test_the_same_idempotency_key_with_another_body_is_422_and_books_nothing(api, world):
    headers = {"Idempotency-Key": "retry-1"}
    first = api.post("/appointments", json=booking_body(world), headers=headers, as_="front_desk")
    assert first.status_code == 201, first.get_json()
    before = table_counts()
    other = api.post("/appointments", json=booking_body(world, notes="changed"), headers=headers,
                     as_="front_desk")
    assert_refused(other, 422)
    assert table_counts() == before


# ------------------------------------------------------------ stored verbatim, never executed

def test_sql_html_and_emoji_in_names_are_stored_verbatim(api, world):
    before = table_counts()
    location = api.post("/locations", json=location_body(name=SQL, slug="sql-town", address=HTML,
                                                         sms_display_name=EMOJI))
    assert location.status_code == 201, location.get_json()
    assert location.mimetype == "application/json"
    loc = location.get_json()
    room = api.post(f"/locations/{loc['id']}/rooms", json={"name": EMOJI, "kind": "therapy"})
    provider = api.post("/providers", json=provider_body(name=HTML))
    patient = api.post("/patients", json=patient_body(world, name=SQL_OR + " " + EMOJI), as_="front_desk")
    off = api.post(f"/providers/{world['prov']}/time-off", json=off_body(reason=SQL))
    for response in (room, provider, patient, off):
        assert response.status_code == 201, response.get_json()

    # Read back exactly as sent, as JSON (HTML is data here, not markup).
    got = api.get(f"/locations/{loc['id']}")
    assert got.mimetype == "application/json" and got.headers["X-Content-Type-Options"] == "nosniff"
    assert (got.get_json()["name"], got.get_json()["address"], got.get_json()["sms_display_name"]) == (SQL, HTML, EMOJI)
    assert api.get(f"/rooms/{room.get_json()['id']}").get_json()["name"] == EMOJI
    assert api.get(f"/providers/{provider.get_json()['id']}").get_json()["name"] == HTML
    assert api.get(f"/patients/{patient.get_json()['id']}").get_json()["name"] == SQL_OR + " " + EMOJI
    db.session.commit()
    assert db.session.scalar(select(Location.name).where(Location.slug == "sql-town")) == SQL
    assert db.session.scalar(select(Provider.name).where(Provider.id == provider.get_json()["id"])) == HTML

    # Nothing was executed: every table is there, and only the new rows (and their audit
    # entries and change-feed records) were added.
    after = table_counts()
    assert set(after) == set(before)
    grew = {name for name in after if after[name] != before[name]}
    assert grew <= {"locations", "rooms", "providers", "patients", "time_off", "audit_log", "changes"}, grew
    assert after["locations"] == before["locations"] + 1
    assert after["patients"] == before["patients"] + 1


def test_emoji_names_go_through_booking_and_the_day_sheet(api, world):
    patient = api.post("/patients", json=patient_body(world, name="Zoë 🌿 O'Brien",
                                                      dosing_clearance_date="2029-12-01"), as_="front_desk")
    assert patient.status_code == 201
    booked = api.post("/appointments", json=booking_body(world, patient_id=patient.get_json()["id"],
                                                         notes="🚗 ride: <b>arranged</b>; DROP TABLE x;"),
                      as_="front_desk")
    assert booked.status_code == 201, booked.get_json()
    sheet = api.get("/appointments", query_string={"location_id": world["loc"], "date": "2030-01-09"},
                    as_="front_desk").get_json()
    (row,) = [a for a in sheet["items"] if a["id"] == booked.get_json()["id"]]
    assert row["patient"]["name"] == "Zoë 🌿 O'Brien"
    assert row["notes"] == "🚗 ride: <b>arranged</b>; DROP TABLE x;"


def test_sql_in_a_query_parameter_matches_nothing_and_drops_nothing(api, world):
    before = table_counts()
    for query in ({"status": "booked' OR '1'='1"}, {"location_id": "1 OR 1=1"}):
        assert_refused(api.get("/appointments", query_string=query), 422)
    assert api.get("/patients", query_string={"phone": "+1 (805) 555-0111"}).status_code == 200
    assert table_counts() == before
    assert db.session.scalar(select(func.count()).select_from(Patient)) == 1


def test_an_over_long_request_id_header_is_replaced_not_echoed(api, world):
    response = api.get("/locations", headers={"X-Request-Id": "<script>" + "x" * 100})
    assert response.status_code == 200
    assert len(response.headers["X-Request-Id"]) == 32 and "<" not in response.headers["X-Request-Id"]
