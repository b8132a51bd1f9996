"""Appointment flags (issue 11, used by issue 10): one owner per code reconciles its flags;
the API shows them (`flags`, `conflict`), lists flagged appointments, the change feed and
webhooks carry each change, /metrics counts them, and the ETag follows them.

The clock stands at Tue 2030-01-01 08:00 Los Angeles; 2030-01-07 is a Monday.
"""
import datetime as dt
import json
import tempfile

import pytest
from sqlalchemy import select, text

from scheduler import create_app
from scheduler.extensions import db
from scheduler.models import AppointmentFlag, Change
from scheduler.services.platform.transaction import write_transaction
from scheduler.services.scheduling import flags
from tests.conftest import NOW
from tests.integration.test_calendar_webhooks import Receiver, run_job, subscribe
from tests.integration.test_hardening_metrics import scrape, value
from tests.support import clinic as c

DAY = "2030-01-07"


@pytest.fixture
def clinic(app):
    loc = c.location()
    other = c.location("Portland", state="OR")
    c.rooms(loc, "therapy", 3)
    c.rooms(other, "therapy", 1)
    presc = c.provider("Dr. P", ["prescriber"], states=("CA", "OR"), at=loc)
    c.work(presc, other, days=("tue",))
    pats = [c.patient(loc, name=f"P{i}", phone=f"+1805555{400 + i:04d}").id for i in range(4)]
    c.commit()
    return dict(loc=loc.id, other=other.id, presc=presc.id, patients=pats)


def book(api, clinic, i, day=DAY, hm="09:00", loc=None):
    r = api.post("/appointments", as_="front_desk", json={
        "patient_id": clinic["patients"][i], "session_type": "consultation",
        "location_id": loc or clinic["loc"], "start": c.local(day, hm)})
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def set_flags(ids, codes, wanted, now=NOW):
    with write_transaction():
        return flags.reconcile(ids, codes, wanted, now)


def stored():
    db.session.rollback()
    return sorted((f.appointment_id, f.code, f.message, f.since) for f in
                  db.session.scalars(select(AppointmentFlag)))


def feed():
    db.session.rollback()
    return [(ch.kind, ch.entity_id, ch.data.get("code"), ch.data.get("message"))
            for ch in db.session.scalars(select(Change).where(Change.kind.like("appointment.%flagged"))
                                         .order_by(Change.id))]


def test_reconcile_adds_updates_and_removes_only_the_owners_codes(api, clinic):
    a, b = book(api, clinic, 0)["id"], book(api, clinic, 1, hm="11:00")["id"]
    later = NOW + dt.timedelta(hours=1)

    added = set_flags([a, b], ["external_busy"], {a: {"external_busy": "busy"}})
    assert added == [flags.FlagChange(a, "external_busy", "added", "busy")]
    set_flags([a, b], ["provider_time_off"], {a: {"provider_time_off": "off"},
                                              b: {"provider_time_off": "off"}})
    assert set_flags([a, b], ["external_busy"], {a: {"external_busy": "busy"}}, later) == []

    # A new message keeps `since`; another owner's codes are never touched.
    changed = set_flags([a, b], ["external_busy", "provider_time_off"],
                        {a: {"external_busy": "still busy"}}, later)
    assert changed == [flags.FlagChange(a, "external_busy", "updated", "still busy"),
                       flags.FlagChange(a, "provider_time_off", "removed", None),
                       flags.FlagChange(b, "provider_time_off", "removed", None)]
    assert stored() == [(a, "external_busy", "still busy", NOW)]
    assert set_flags([b], ["external_busy"], {}) == []  # a's flag is outside this scope
    assert stored() == [(a, "external_busy", "still busy", NOW)]

    assert feed() == [
        ("appointment.flagged", a, "external_busy", "busy"),
        ("appointment.flagged", a, "provider_time_off", "off"),
        ("appointment.flagged", b, "provider_time_off", "off"),
        ("appointment.flagged", a, "external_busy", "still busy"),
        ("appointment.unflagged", a, "provider_time_off", None),
        ("appointment.unflagged", b, "provider_time_off", None)]


@pytest.mark.parametrize("ids, codes, wanted", [
    ([1], ["external_busy"], {2: {"external_busy": "x"}}),       # id outside the scope
    ([1], ["external_busy"], {1: {"no_ride": "x"}}),             # code not owned
    ([1], ["Not A Code"], {}),
])
def test_reconcile_refuses_what_its_caller_does_not_own(app, ids, codes, wanted):
    with pytest.raises(ValueError):
        set_flags(ids, codes, wanted)


def test_the_api_shows_flags_and_their_etag_follows_them(api, clinic):
    appt = book(api, clinic, 0)
    first = api.get(f"/appointments/{appt['id']}", as_="front_desk")
    body = first.get_json()
    assert (body["flags"], body["conflict"], body["conflict_reason"]) == ([], False, None)

    set_flags([appt["id"]], ["external_busy", "no_ride"],
              {appt["id"]: {"external_busy": "Busy in their own calendar.", "no_ride": "No ride home."}})
    flagged = api.get(f"/appointments/{appt['id']}", as_="front_desk")
    body = flagged.get_json()
    assert [(f["code"], f["message"], f["since"]) for f in body["flags"]] == [
        ("external_busy", "Busy in their own calendar.", "2030-01-01T08:00:00-08:00"),
        ("no_ride", "No ride home.", "2030-01-01T08:00:00-08:00")]
    assert body["conflict"] is True
    assert body["conflict_reason"] == "Busy in their own calendar.; No ride home."
    assert body["version"] == appt["version"]
    assert flagged.headers["ETag"] != first.headers["ETag"]

    # If-Match guards what a client edits: a tag from before the flags still names the version.
    r = api.patch(f"/appointments/{appt['id']}", as_="front_desk", json={"notes": "called"},
                  headers={"If-Match": first.headers["ETag"]})
    assert r.status_code == 200, r.get_json()
    r = api.patch(f"/appointments/{appt['id']}", as_="front_desk", json={"notes": "again"},
                  headers={"If-Match": flagged.headers["ETag"]})
    assert r.status_code == 412

    set_flags([appt["id"]], ["no_ride"], {appt["id"]: {"no_ride": "Still no ride."}})
    renamed = api.get(f"/appointments/{appt['id']}", as_="front_desk")
    assert renamed.headers["ETag"] not in (flagged.headers["ETag"], first.headers["ETag"])


def test_listing_flagged_appointments_with_other_filters_and_pages(api, clinic):
    ids = [book(api, clinic, i, hm=hm)["id"] for i, hm in enumerate(("09:00", "10:30", "13:00"))]
    elsewhere = book(api, clinic, 3, day="2030-01-08", loc=clinic["other"])["id"]
    set_flags(ids + [elsewhere], ["external_busy"], {i: {"external_busy": "busy"} for i in
                                                     (ids[0], ids[2], elsewhere)})

    def listed(**params):
        r = api.get("/appointments", as_="front_desk", query_string=params)
        assert r.status_code == 200, r.get_json()
        return r.get_json()

    assert [a["id"] for a in listed(flagged="true")["items"]] == [ids[0], ids[2], elsewhere]
    assert [a["id"] for a in listed(flagged="false")["items"]] == [ids[1]]
    assert [a["id"] for a in listed(flagged="true", location_id=clinic["loc"])["items"]] == [ids[0], ids[2]]
    assert [a["id"] for a in listed(flagged="true", location_id=clinic["loc"], date=DAY)["items"]] == \
        [ids[0], ids[2]]
    assert [a["id"] for a in listed(flagged="true", start=c.local(DAY, "12:00"),
                                    end=c.local("2030-01-09", "00:00"))["items"]] == [ids[2], elsewhere]
    assert [a["id"] for a in listed(flag="external_busy", patient_id=clinic["patients"][3])["items"]] == \
        [elsewhere]
    assert listed(flag="no_ride")["items"] == []

    page = listed(flagged="true", limit=2)
    assert [a["id"] for a in page["items"]] == [ids[0], ids[2]]
    rest = listed(flagged="true", limit=2, cursor=page["next_cursor"])
    assert [a["id"] for a in rest["items"]] == [elsewhere] and rest["next_cursor"] is None

    for bad in ({"flagged": "maybe"}, {"flag": "Bad Code"},
                {"start": c.local(DAY, "12:00"), "end": c.local(DAY, "11:00")},
                {"location_id": clinic["loc"], "date": DAY, "start": c.local(DAY, "12:00")}):
        assert api.get("/appointments", as_="front_desk", query_string=bad).status_code == 422, bad


def test_webhooks_carry_flag_changes_and_metrics_count_them(api, client, clinic, allow_outbound):
    receiver = Receiver()
    allow_outbound(receiver.url())
    try:
        sub = subscribe(api, receiver.url(), ["appointment.flagged", "appointment.unflagged"])
        a, b = book(api, clinic, 0)["id"], book(api, clinic, 1, hm="11:00")["id"]
        before = scrape(client)
        set_flags([a, b], ["external_busy"], {a: {"external_busy": "busy"}, b: {"external_busy": "busy"}})
        set_flags([a], ["no_ride"], {a: {"no_ride": "No ride home."}})
        after = scrape(client)
        assert value(after, "scheduler_flagged_appointments", code="external_busy") == 2
        assert value(after, "scheduler_flagged_appointments", code="no_ride") == 1
        assert value(before, "scheduler_flagged_appointments", code="external_busy") == 0
        set_flags([a, b], ["external_busy"], {})
        assert value(scrape(client), "scheduler_flagged_appointments", code="external_busy") == 0
        run_job()
        events = [json.loads(r["body"]) for r in receiver.requests]
        assert [(e["kind"], e["entity_id"], e["data"]["code"]) for e in events] == [
            ("appointment.flagged", a, "external_busy"), ("appointment.flagged", b, "external_busy"),
            ("appointment.flagged", a, "no_ride"), ("appointment.unflagged", a, "external_busy"),
            ("appointment.unflagged", b, "external_busy")]
        assert all(r["status"] == 200 for r in receiver.requests) and sub["id"]
    finally:
        receiver.close()


def test_migration_turns_conflict_columns_into_external_busy_flags():
    from flask_migrate import upgrade

    with tempfile.TemporaryDirectory() as tmp:
        scratch = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp}/flags.db",
                              "SECRET_KEY": "test-secret-key-0123456789", "SCHEDULER_EMBEDDED": False})
        with scratch.app_context():
            try:
                upgrade(revision="0005")
                _old_rows()
                upgrade()
                rows = db.session.execute(text(
                    "SELECT appointment_id, code, message FROM appointment_flags ORDER BY appointment_id")).all()
                assert [tuple(r) for r in rows] == [(1, "external_busy", "Busy at the dentist.")]
                events = db.session.execute(text("SELECT events FROM webhook_subscriptions")).scalar()
                events = json.loads(events) if isinstance(events, str) else events
                assert events == ["appointment.flagged", "busy.updated"]
                columns = {r[1] for r in db.session.execute(text("PRAGMA table_info(appointments)"))}
                assert "conflict" not in columns and "conflict_reason" not in columns
            finally:
                db.session.remove()
                db.engine.dispose()


def _old_rows():
    """Two appointments as revision 0005 stored them, one flagged as a conflict."""
    now = "2030-01-01 16:00:00"
    statements = [
        "INSERT INTO locations (id, name, slug, timezone, state, phone, sms_display_name, address, "
        "opening_hours, monitoring_ratio, turnover_minutes, slot_minutes, quiet_start, quiet_end, "
        "sms_profile, sms_max_per_day, sms_max_per_week, feed_shows_patient_names, created_at, "
        "updated_at, version) VALUES (1, 'L', 'l', 'America/Los_Angeles', 'CA', '+16265550100', 'L', '', "
        "'{}', 3, 15, 15, '21:00', '08:00', 'standard', 3, 8, 0, :now, :now, 1)",
        "INSERT INTO providers (id, name, capabilities, licensed_states, active, created_at, updated_at, "
        "version) VALUES (1, 'P', '[]', '[]', 1, :now, :now, 1)",
        "INSERT INTO patients (id, name, phone, home_location_id, sms_consent, sms_opted_out, created_at, "
        "updated_at, version) VALUES (1, 'X', '+18055550111', 1, 1, 0, :now, :now, 1)",
        "INSERT INTO webhook_subscriptions (url, events, secret_sealed, active, queued_through, created_at) "
        "VALUES ('http://x', '[\"appointment.conflict\", \"busy.updated\"]', 's', 1, 0, :now)",
    ]
    for i, (conflict, reason) in enumerate(((1, "Busy at the dentist."), (0, None)), 1):
        statements.append(
            "INSERT INTO appointments (id, patient_id, session_type_id, location_id, provider_id, telehealth, "
            "status, start_at, end_at, provider_busy_end, local_date, is_dosing, notes, conflict, "
            f"conflict_reason, sequence, created_by, created_at, updated_at, version) VALUES ({i}, 1, "
            "(SELECT id FROM session_types WHERE code = 'consultation'), 1, 1, 1, 'booked', "
            f"'2030-01-0{i + 6} 17:00:00', '2030-01-0{i + 6} 18:00:00', '2030-01-0{i + 6} 18:00:00', "
            f"'2030-01-0{i + 6}', 0, '', {conflict}, {'NULL' if reason is None else repr(reason)}, 0, 'x', "
            ":now, :now, 1)")
    for sql in statements:
        db.session.execute(text(sql), {"now": now})
    db.session.commit()
