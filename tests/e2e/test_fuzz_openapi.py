"""Fuzzing against our own OpenAPI spec (issue 6): schemathesis generates requests for every
operation the service documents, valid and invalid, and every answer must be documented.

For each generated case, two requests go in-process (WSGI):
- without a key: the answer is a 401 in our error format, whatever the request;
- with an admin key: no 5xx, the status code, content type and body conform to the spec.

The database holds a small clinic first, and path ids are drawn half the time from its real
rows, so the views get past "not found" into their rules. Calendar fetches are replaced by
an unreachable calendar: a fuzzed URL is never fetched.

Bounded for `make test` (FUZZ_MAX_EXAMPLES per operation, 20 by default); `make fuzz`
runs the same test longer and prints its figures (FUZZ_REPORT=path also writes them as JSON).
"""
from __future__ import annotations

import json
import os
import time
from collections import Counter

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings, strategies as st  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance, response_schema_conformance, status_code_conformance,
)

from scheduler.adapters.busy_import import CalendarUnreachable  # noqa: E402
from scheduler.extensions import db  # noqa: E402
from scheduler.models import ExternalCalendar, InboundMessage, TimeOff  # noqa: E402
from scheduler.services.calendars import external_calendars as calendar_sync  # noqa: E402
from tests.conftest import NOW  # noqa: E402
from tests.support import clinic as c  # noqa: E402
from tests.support.sms import MONDAY, book, sms_clinic  # noqa: E402

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "20"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
FIGURES = {"operations": set(), "answered_2xx": set(), "failed": [], "cases": 0, "statuses": Counter(),
           "started": None}


def _unreachable(*args, **kwargs):
    raise CalendarUnreachable("fuzzing: calendars are never fetched", "connect")


def _seed(api) -> dict[str, list]:
    """A small clinic through the database and the API; the ids each path parameter may take."""
    clinic = sms_clinic()
    other = c.location("Glendale")
    c.rooms(other, "treatment", 1)
    c.commit()
    appt = book(api, clinic, day=MONDAY, at="10:00")
    book(api, clinic, session_type="consultation", day=MONDAY, at="15:00")
    provider_id = appt["provider"]["id"]
    rule = api.post(f"/providers/{provider_id}/availability", json={
        "location_id": other.id, "weekday": "sat", "start_time": "19:00", "end_time": "21:00"})
    assert rule.status_code == 201, rule.get_json()
    off = api.post(f"/providers/{provider_id}/time-off", json={
        "start": "2030-02-01T09:00:00-08:00", "end": "2030-02-01T17:00:00-08:00", "reason": "course"})
    assert off.status_code == 201, off.get_json()
    token = api.post("/calendar-tokens", json={"provider_id": provider_id})
    sub = api.post("/webhook-subscriptions", json={"url": "https://hooks.example.com/hook", "events": ["*"]})
    cal = api.post(f"/providers/{provider_id}/external-calendars",
                   json={"kind": "ics", "url": "https://calendar.example.com/cal.ics"})
    assert {token.status_code, sub.status_code, cal.status_code} == {201}
    db.session.add(InboundMessage(patient_id=clinic.patient.id, from_phone=clinic.patient.phone,
                                  body="what time again?", action="other", handled=False,
                                  twilio_sid="SM" + "0" * 32, received_at=NOW))
    db.session.commit()
    ids = lambda model: [row.id for row in db.session.query(model).all()]  # noqa: E731
    from scheduler.models import (
        Appointment, AvailabilityRule, CalendarToken, Location, Patient, Provider, Room, SessionType,
        WebhookSubscription,
    )
    known = {
        "location_id": ids(Location), "room_id": ids(Room), "provider_id": ids(Provider),
        "rule_id": ids(AvailabilityRule), "time_off_id": ids(TimeOff), "patient_id": ids(Patient),
        "appointment_id": ids(Appointment), "message_id": ids(InboundMessage),
        "token_id": ids(CalendarToken), "sub_id": ids(WebhookSubscription),
        "calendar_id": ids(ExternalCalendar),
        "code": [row.code for row in db.session.query(SessionType).all()],
    }
    try:
        from scheduler.models import MessageTemplate  # added with the message templates
        known["template_id"] = ids(MessageTemplate) or [1]
    except ImportError:
        pass
    return known


@pytest.fixture
def fuzz_schema(app, api, keys, monkeypatch):
    monkeypatch.setattr(calendar_sync, "fetch_ics", _unreachable)
    monkeypatch.setattr(calendar_sync, "fetch_caldav", _unreachable)
    limiter = app.extensions["rate_limiter"]
    limiter.enabled = False  # thousands of requests a minute from one key: not what this tests
    known = _seed(api)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)

    @schema.hook
    def flatmap_path_parameters(context, path_parameters):
        # Half the time, every id names a real row (checks pass, rules run).
        real = {name: st.sampled_from(known[name]) for name in (path_parameters or {})
                if known.get(name)}
        if not real:
            return st.just(path_parameters)
        return st.one_of(st.just(path_parameters),
                         st.fixed_dictionaries(real).map(lambda ids: {**path_parameters, **ids}))

    FIGURES["admin"] = keys["admin"]
    FIGURES["started"] = FIGURES["started"] or time.perf_counter()
    yield schema
    limiter.enabled = True


# The bounded run is the same every time (derandomized); `make fuzz` (FUZZ_RANDOM=1) draws
# new examples each run.
SETTINGS = settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                    derandomize=os.environ.get("FUZZ_RANDOM") != "1", database=None, print_blob=True)


def check_case(case):
    """One generated case: refused without a key, conforming with the admin's."""
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    anonymous = case.call()
    assert anonymous.status_code == 401, (case.method, case.formatted_path, anonymous.status_code,
                                          anonymous.text[:300])
    body = anonymous.json()
    assert body["code"] == "unauthorized" and isinstance(body["message"], str), body
    response = case.call(headers={"Authorization": f"Bearer {FIGURES['admin']}"})
    FIGURES["cases"] += 1
    FIGURES["statuses"][response.status_code] += 1
    if 200 <= response.status_code < 300:
        FIGURES["answered_2xx"].add(f"{case.operation.method.upper()} {case.operation.path}")
    case.validate_response(response, checks=CHECKS)


def test_every_operation_conforms_and_refuses_callers_without_a_key(fuzz_schema, subtests):
    # schemathesis' own pytest loader (from_fixture) does not run under pytest 9.2: the same
    # per-operation tests (examples, coverage and fuzzing phases) are built and run here.
    from schemathesis.checks import load_all_checks
    from schemathesis.pytest.lazy import get_all_tests

    load_all_checks()
    schema = fuzz_schema.clone(test_function=check_case)
    tests = list(get_all_tests(schema=schema, test_func=check_case, settings=SETTINGS, given_kwargs={}))
    assert len(tests) >= 50, "the spec lost operations"
    for result in tests:
        operation, sub_test = result.ok()  # a schema error fails here
        FIGURES["operations"].add(operation.label)
        with subtests.test(msg=operation.label):
            try:
                sub_test()
            except BaseException:
                FIGURES["failed"].append(operation.label)
                raise
    # The seeded ids take the fuzzer past "not found": most operations also succeed.
    assert len(FIGURES["answered_2xx"]) >= len(tests) // 2, sorted(FIGURES["answered_2xx"])


def teardown_module(module):
    if not FIGURES["cases"]:
        return
    figures = {"operations": len(FIGURES["operations"]), "operations_answering_2xx": len(FIGURES["answered_2xx"]),
               "failed_operations": FIGURES["failed"], "cases": FIGURES["cases"],
               "requests": FIGURES["cases"] * 2, "max_examples": MAX_EXAMPLES,
               "seconds": round(time.perf_counter() - FIGURES["started"], 1),
               "statuses": dict(sorted(FIGURES["statuses"].items()))}
    print("\nfuzz figures: " + json.dumps(figures))
    if os.environ.get("FUZZ_REPORT"):
        os.makedirs(os.path.dirname(os.path.abspath(os.environ["FUZZ_REPORT"])), exist_ok=True)
        with open(os.environ["FUZZ_REPORT"], "w") as handle:
            json.dump(figures, handle, indent=2)
