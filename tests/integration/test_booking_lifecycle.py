"""An appointment's life through the API: moves (every rule re-checked, its own old time
never in its way), If-Match, cancel, check-in, complete, no-show, the audit log,
Idempotency-Key, the day sheet and its query count, and every 409 and 422 a booking can get.

Monday 2030-01-07 is the default day; "now" starts at Tue 2030-01-01 08:00 LA.
"""
import datetime as dt
from types import SimpleNamespace

import pytest
from sqlalchemy import event, func, select

from scheduler.extensions import db
from scheduler.models import Appointment, AuditEntry, Location, TimeOff
from tests.support import clinic as c

DAY = "2030-01-07"  # a Monday
NEXT_DAY = "2030-01-08"
UTC = dt.timezone.utc


# ---------------------------------------------------------------- helpers


def at(hm, day=DAY):
    return c.local(day, hm)


def instant(hm, day=DAY):
    return dt.datetime.fromisoformat(at(hm, day)).astimezone(UTC)


def starts(api, loc_id, session_type, start, end, **params):
    r = api.get("/slots", as_="front_desk", query_string={
        "location_id": loc_id, "session_type": session_type, "start": start, "end": end, **params})
    assert r.status_code == 200, r.get_data(as_text=True)
    return [s["start"] for s in r.get_json()["slots"]]


def book(api, patient_id, session_type, loc_id, start, headers=None, **extra):
    body = {"patient_id": patient_id, "session_type": session_type, "location_id": loc_id,
            "start": start, **extra}
    return api.post("/appointments", json=body, as_="front_desk", headers=headers)


def booked(api, *args, **kwargs):
    r = book(api, *args, **kwargs)
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def refused(response, status, code, fields=()):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == code, body
    assert body["message"]
    for field in fields:
        assert field in body["errors"], (field, body["errors"])
    return body


def move(api, appt_id, headers=None, **changes):
    return api.patch(f"/appointments/{appt_id}", json=changes, as_="front_desk", headers=headers)


def act(api, appt_id, action, **body):
    return api.post(f"/appointments/{appt_id}/{action}", json=body or None, as_="front_desk")


def get(api, appt_id):
    r = api.get(f"/appointments/{appt_id}", as_="front_desk")
    assert r.status_code == 200
    return r.get_json()


def audit_actions(appt_id):
    return list(db.session.scalars(select(AuditEntry.action).where(
        AuditEntry.entity_type == "appointments", AuditEntry.entity_id == appt_id).order_by(AuditEntry.id)))


def appointment_count():
    return db.session.scalar(select(func.count()).select_from(Appointment))


_phones = iter(range(100, 10_000))


def patients(loc, n, cleared=True):
    return [c.patient(loc, name=f"Patient {i}", phone=f"+1805555{next(_phones):04d}", cleared=cleared).id
            for i in range(n)]


@pytest.fixture
def clinic(app):
    """Pasadena (CA) open 07:00-19:00, ratio 3, two treatment and two therapy rooms; a
    prescriber, a nurse and a therapist 08:00-17:00 every day; four cleared patients."""
    loc = c.location()
    treatment = c.rooms(loc, "treatment", 2)
    therapy = c.rooms(loc, "therapy", 2)
    presc = c.provider("Dr. P", ["prescriber"], at=loc)
    nurse = c.provider("Nurse N", ["nurse"], at=loc)
    therapist = c.provider("T. Therapist", ["therapist"], at=loc)
    pats = patients(loc, 4)
    c.commit()
    return SimpleNamespace(loc=loc.id, treatment=[r.id for r in treatment], therapy=[r.id for r in therapy],
                           presc=presc.id, nurse=nurse.id, therapist=therapist.id, patients=pats)


def _lone(rooms):
    """One prescriber alone, monitoring ratio 1 (Example 2)."""
    loc = c.location(ratio=1)
    made = c.rooms(loc, "treatment", rooms)
    presc = c.provider("Dr. Alone", ["prescriber"], at=loc)
    pats = patients(loc, 3)
    c.commit()
    return SimpleNamespace(loc=loc.id, room=made[0].id, rooms=[r.id for r in made], presc=presc.id,
                           patients=pats)


@pytest.fixture
def lone(app):
    """Example 2 with a single treatment room."""
    return _lone(1)


@pytest.fixture
def lone3(app):
    """Example 2 as written: three treatment rooms."""
    return _lone(3)


# ---------------------------------------------------------------- moves


def test_a_move_is_not_blocked_by_its_own_old_time(api, lone):
    """Alone, the appointment's old room, provider, patient and monitoring ranges would each
    refuse the new time; a move leaves them out."""
    a = booked(api, lone.patients[0], "ketamine_iv", lone.loc, at("09:00"))
    r = move(api, a["id"], start=at("09:15"))
    assert r.status_code == 200, r.get_data(as_text=True)
    moved = r.get_json()
    assert (moved["start"], moved["end"], moved["monitoring_start"]) == (at("09:15"), at("10:55"), at("09:55"))
    assert (moved["room_id"], moved["provider_id"]) == (lone.room, lone.presc)
    assert moved["version"] == a["version"] + 1
    assert r.headers["ETag"] == f'"appointments-{a["id"]}-v{moved["version"]}"'
    assert audit_actions(a["id"]) == ["book", "move"]
    # And back again, overlapping its own (new) range the other way.
    assert move(api, a["id"], start=at("09:00")).status_code == 200


def test_a_move_rechecks_monitoring_capacity(api, lone3):
    lone = lone3
    a = booked(api, lone.patients[0], "ketamine_iv", lone.loc, at("09:00"))
    b = booked(api, lone.patients[1], "ketamine_iv", lone.loc, at("11:00"))
    assert a["room_id"] != b["room_id"]
    refused(move(api, b["id"], start=at("09:45")), 409, "monitoring_capacity")
    refused(move(api, b["id"], start=at("10:30")), 409, "monitoring_capacity")  # A watched until 10:40
    assert get(api, b["id"])["start"] == at("11:00")
    assert move(api, b["id"], start=at("10:45")).status_code == 200
    assert move(api, a["id"], start=at("08:00")).status_code == 200  # A now watched 08:40-09:40
    assert move(api, b["id"], start=at("09:45")).status_code == 200


def test_a_move_rechecks_every_rule(api, clinic, clock):
    p, other = clinic.patients[0], clinic.patients[1]
    a = booked(api, p, "ketamine_iv", clinic.loc, at("09:00"))
    b = booked(api, other, "ketamine_iv", clinic.loc, at("11:00"))
    assert a["room_id"] != b["room_id"] and a["provider_id"] != b["provider_id"]
    booked(api, p, "integration", clinic.loc, at("13:00"))
    booked(api, p, "ketamine_im", clinic.loc, at("09:00", NEXT_DAY))
    esk = booked(api, clinic.patients[2], "esketamine_nasal", clinic.loc, at("09:00", "2030-01-09"))

    cases = [
        ({"start": at("18:00")}, "after_closing"),
        ({"start": at("06:00")}, "clinic_closed"),
        ({"start": at("11:00"), "room_id": b["room_id"]}, "room_unavailable"),
        ({"start": at("11:00"), "provider_id": b["provider_id"]}, "provider_unavailable"),
        ({"provider_id": clinic.therapist}, "provider_not_qualified"),
        ({"start": at("12:30")}, "patient_overlap"),
        ({"start": at("11:00", NEXT_DAY)}, "one_dosing_per_day"),
        ({"start": at("16:00")}, "monitoring_capacity"),
        ({"start": c.local("2030-01-01", "09:00")}, "too_soon"),
    ]
    for changes, code in cases:
        refused(move(api, a["id"], **changes), 409, code)
    refused(move(api, esk["id"], start=at("15:00", "2030-01-09")), 409, "rems_prescriber")
    refused(move(api, a["id"], provider_id=99999), 422, "validation_error", fields=["provider_id"])
    refused(move(api, a["id"], room_id=99999), 422, "validation_error", fields=["room_id"])
    refused(move(api, a["id"], start="2030-01-07T10:00:00"), 422, "validation_error", fields=["start"])

    unchanged = get(api, a["id"])
    assert (unchanged["start"], unchanged["version"]) == (at("09:00"), a["version"])
    assert audit_actions(a["id"]) == ["book"]
    moved = move(api, a["id"], start=at("09:30"), provider_id=clinic.nurse).get_json()
    assert (moved["start"], moved["provider_id"]) == (at("09:30"), clinic.nurse)


def test_a_move_rechecks_travel_time(api, app):
    sb, pas = c.location("Santa Barbara"), c.location("Pasadena")
    for loc in (sb, pas):
        c.rooms(loc, "therapy", 1)
    presc = c.provider("Dr. Roaming", ["prescriber"])
    c.work(presc, sb)
    c.work(presc, pas)
    p1, p2 = patients(sb, 2)
    c.commit()
    booked(api, p1, "consultation", sb.id, at("09:00"))
    later = booked(api, p2, "consultation", pas.id, at("13:00"))
    refused(move(api, later["id"], start=at("11:15")), 409, "travel_time")
    assert move(api, later["id"], start=at("11:30")).status_code == 200


def test_if_match(api, clinic):
    a = booked(api, clinic.patients[0], "ketamine_iv", clinic.loc, at("09:00"))
    etag = api.get(f"/appointments/{a['id']}", as_="front_desk").headers["ETag"]
    first = move(api, a["id"], headers={"If-Match": etag}, start=at("09:15"))
    assert first.status_code == 200
    refused(move(api, a["id"], headers={"If-Match": etag}, start=at("09:30")), 412, "precondition_failed")
    refused(move(api, a["id"], headers={"If-Match": '"something-else"'}, notes="x"), 412, "precondition_failed")
    assert get(api, a["id"])["start"] == at("09:15")
    second = move(api, a["id"], headers={"If-Match": first.headers["ETag"]}, start=at("09:30"))
    assert second.status_code == 200 and second.get_json()["start"] == at("09:30")


@pytest.mark.parametrize("status", ["cancelled", "checked-in", "fulfilled", "noshow"])
def test_only_a_booked_appointment_moves(api, clinic, clock, status):
    a = booked(api, clinic.patients[0], "ketamine_iv", clinic.loc, at("09:00"))
    clock.set(instant("09:30"))
    for action in {"cancelled": ["cancel"], "checked-in": ["check-in"], "fulfilled": ["check-in", "complete"],
                   "noshow": ["no-show"]}[status]:
        assert act(api, a["id"], action, **({"reason": "patient ill"} if action == "cancel" else {})).status_code == 200
    clock.set(instant("08:00", "2030-01-01"))
    refused(move(api, a["id"], start=at("10:00", "2030-01-09")), 409, "invalid_transition")
    assert get(api, a["id"])["status"] == status


# ---------------------------------------------------------------- cancel


def test_cancel_frees_the_room_the_provider_and_the_capacity(api, lone):
    a_patient, b_patient = lone.patients[0], lone.patients[1]
    a = booked(api, a_patient, "ketamine_iv", lone.loc, at("09:00"))
    window = (at("09:00"), at("10:00"))
    assert starts(api, lone.loc, "ketamine_iv", *window, patient_id=b_patient) == []
    refused(book(api, b_patient, "ketamine_iv", lone.loc, at("09:00")), 409, "room_unavailable")

    r = act(api, a["id"], "cancel", reason="Patient has the flu")
    assert r.status_code == 200
    body = r.get_json()
    assert (body["status"], body["cancel_reason"]) == ("cancelled", "Patient has the flu")
    assert starts(api, lone.loc, "ketamine_iv", *window, patient_id=b_patient) == \
        [at("09:00"), at("09:15"), at("09:30"), at("09:45")]
    b = booked(api, b_patient, "ketamine_iv", lone.loc, at("09:00"))
    assert (b["room_id"], b["provider_id"]) == (lone.room, lone.presc)
    # Kept, never deleted.
    assert get(api, a["id"])["status"] == "cancelled"
    assert audit_actions(a["id"]) == ["book", "cancel"]


def test_cancel_frees_monitoring_capacity(api, app):
    loc = c.location(ratio=1)
    c.rooms(loc, "treatment", 3)
    c.provider("Dr. Alone", ["prescriber"], at=loc)
    a_patient, b_patient = patients(loc, 2)
    c.commit()
    a = booked(api, a_patient, "ketamine_iv", loc.id, at("09:00"))
    refused(book(api, b_patient, "ketamine_iv", loc.id, at("09:45")), 409, "monitoring_capacity")
    assert act(api, a["id"], "cancel", reason="rescheduling").status_code == 200
    assert at("09:45") in starts(api, loc.id, "ketamine_iv", at("09:00"), at("10:00"), patient_id=b_patient)
    booked(api, b_patient, "ketamine_iv", loc.id, at("09:45"))


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": None}])
def test_cancel_requires_a_reason(api, clinic, body):
    a = booked(api, clinic.patients[0], "ketamine_iv", clinic.loc, at("09:00"))
    r = api.post(f"/appointments/{a['id']}/cancel", json=body, as_="front_desk")
    refused(r, 422, "validation_error", fields=["reason"])
    assert get(api, a["id"])["status"] == "booked"
    assert audit_actions(a["id"]) == ["book"]


# ---------------------------------------------------------------- status transitions


def test_check_in_only_on_the_day(api, clinic, clock):
    a = booked(api, clinic.patients[0], "ketamine_iv", clinic.loc, at("09:00"))
    refused(act(api, a["id"], "check-in"), 409, "invalid_transition")  # six days early
    clock.set(instant("23:59", "2030-01-06"))
    refused(act(api, a["id"], "check-in"), 409, "invalid_transition")  # the evening before
    clock.set(instant("00:00", NEXT_DAY))
    refused(act(api, a["id"], "check-in"), 409, "invalid_transition")  # the day after
    clock.set(instant("07:00"))
    r = act(api, a["id"], "check-in")
    assert r.status_code == 200 and r.get_json()["status"] == "checked-in"
    assert audit_actions(a["id"]) == ["book", "check-in"]


def test_complete_only_after_check_in_and_start(api, clinic, clock):
    a = booked(api, clinic.patients[0], "ketamine_iv", clinic.loc, at("09:00"))
    clock.set(instant("09:30"))
    refused(act(api, a["id"], "complete"), 409, "invalid_transition")  # not checked in
    clock.set(instant("08:30"))
    assert act(api, a["id"], "check-in").status_code == 200
    refused(act(api, a["id"], "complete"), 409, "invalid_transition")  # not started
    clock.set(instant("10:40"))
    r = act(api, a["id"], "complete")
    assert r.status_code == 200 and r.get_json()["status"] == "fulfilled"
    assert audit_actions(a["id"]) == ["book", "check-in", "complete"]


def test_no_show_only_after_start(api, clinic, clock):
    a = booked(api, clinic.patients[0], "ketamine_iv", clinic.loc, at("09:00"))
    clock.set(instant("08:59"))
    refused(act(api, a["id"], "no-show"), 409, "invalid_transition")
    clock.set(instant("09:00"))
    r = act(api, a["id"], "no-show")
    assert r.status_code == 200 and r.get_json()["status"] == "noshow"
    assert audit_actions(a["id"]) == ["book", "no-show"]
    # A no-show keeps its time (it happened), but nobody is in the chair.
    assert get(api, a["id"])["start"] == at("09:00")


PATHS = {"booked": [], "checked-in": ["check-in"], "fulfilled": ["check-in", "complete"],
         "cancelled": ["cancel"], "noshow": ["no-show"]}
ALLOWED = {("booked", "check-in"): "checked-in", ("booked", "no-show"): "noshow",
           ("booked", "cancel"): "cancelled", ("checked-in", "complete"): "fulfilled",
           ("checked-in", "cancel"): "cancelled"}


@pytest.mark.parametrize("status", list(PATHS))
@pytest.mark.parametrize("action", ["check-in", "complete", "no-show", "cancel"])
def test_transition_table(api, clinic, clock, status, action):
    a = booked(api, clinic.patients[0], "ketamine_iv", clinic.loc, at("09:00"))
    clock.set(instant("09:30"))  # on the day, after the start: only the status decides
    reason = {"reason": "the patient asked"}
    for step in PATHS[status]:
        assert act(api, a["id"], step, **(reason if step == "cancel" else {})).status_code == 200
    before = audit_actions(a["id"])
    r = act(api, a["id"], action, **(reason if action == "cancel" else {}))
    if (status, action) in ALLOWED:
        assert r.status_code == 200, r.get_data(as_text=True)
        assert r.get_json()["status"] == ALLOWED[status, action]
        assert audit_actions(a["id"]) == before + [action]
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.entity_id == a["id"])
                                   .order_by(AuditEntry.id.desc())).first()
        assert entry.actor == "front_desk test key"
        assert entry.before["status"] == status and entry.after["status"] == ALLOWED[status, action]
    else:
        refused(r, 409, "invalid_transition")
        assert get(api, a["id"])["status"] == status
        assert audit_actions(a["id"]) == before


def test_transitions_of_an_unknown_appointment_are_404(api, clinic):
    for action in ("check-in", "complete", "no-show"):
        assert act(api, 99999, action).status_code == 404
    assert act(api, 99999, "cancel", reason="x").status_code == 404
    assert move(api, 99999, notes="x").status_code == 404


# ---------------------------------------------------------------- Idempotency-Key


def test_idempotency_key_replays_the_first_booking(api, clinic):
    body = dict(patient_id=clinic.patients[0], session_type="ketamine_iv", loc_id=clinic.loc, start=at("09:00"))
    first = book(api, **body, headers={"Idempotency-Key": "abc-123"})
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    again = book(api, **body, headers={"Idempotency-Key": "abc-123"})
    assert again.status_code == 201, again.get_data(as_text=True)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    assert appointment_count() == 1
    assert audit_actions(first.get_json()["id"]) == ["book"]

    other = dict(body, patient_id=clinic.patients[1], start=at("11:00"))
    refused(book(api, **other, headers={"Idempotency-Key": "abc-123"}), 422, "idempotency_key_reused",
            fields=["Idempotency-Key"])
    assert appointment_count() == 1
    # Without the key, or with a new one, it is a new request.
    assert book(api, **other, headers={"Idempotency-Key": "abc-124"}).status_code == 201
    assert appointment_count() == 2


# ---------------------------------------------------------------- the day sheet


def test_day_sheet_in_start_order_with_everyone_and_the_checkpoints(api, clinic):
    p = clinic.patients
    late = booked(api, p[0], "integration", clinic.loc, at("14:00"))
    early = booked(api, p[1], "ketamine_iv", clinic.loc, at("08:15"))
    middle = booked(api, p[2], "ketamine_im", clinic.loc, at("10:00"))
    booked(api, p[3], "ketamine_iv", clinic.loc, at("09:00", NEXT_DAY))  # another day
    elsewhere = c.location("Santa Barbara")
    c.rooms(elsewhere, "therapy", 1)
    c.provider("T. SB", ["therapist"], at=elsewhere)
    c.commit()
    booked(api, p[3], "integration", elsewhere.id, at("09:00"))  # another location

    r = api.get("/appointments", as_="front_desk", query_string={"location_id": clinic.loc, "date": DAY})
    assert r.status_code == 200
    items = r.get_json()["items"]
    assert [i["id"] for i in items] == [early["id"], middle["id"], late["id"]]
    first = items[0]
    assert first["patient"] == {"id": p[1], "name": "Patient 1"}
    assert first["provider"]["id"] == early["provider_id"] and first["provider"]["name"]
    assert first["room"]["id"] == early["room_id"] and first["room"]["name"]
    assert first["checkpoints"] == [
        {"label": "Blood pressure and pulse before dosing", "at": at("08:15")},
        {"label": "Blood pressure", "at": at("08:55")},
        {"label": "Discharge check", "at": at("09:45")},
    ]
    assert items[2]["checkpoints"] == []
    assert (items[2]["start"], items[2]["end"]) == (at("14:00"), at("14:50"))
    refused(api.get("/appointments", as_="front_desk", query_string={"date": DAY}), 422,
            "validation_error", fields=["date"])


def test_day_sheet_query_count_does_not_grow(api, app):
    loc = c.location()
    c.rooms(loc, "treatment", 2)
    c.rooms(loc, "therapy", 3)
    c.provider("Dr. P", ["prescriber"], at=loc)
    c.provider("Nurse N", ["nurse"], at=loc)
    for i in range(3):
        c.provider(f"T. {i}", ["therapist"], at=loc)
    pats = patients(loc, 12)
    c.commit()
    plan = [("ketamine_iv", "08:00"), ("ketamine_im", "08:00")] + [
        ("integration", hm) for hm in ("08:00", "09:15", "10:30", "11:45") for _ in range(3)][:10]
    assert len(plan) == 12

    def day_sheet_statements():
        seen = []

        def count(conn, cursor, statement, parameters, context, executemany):
            seen.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            r = api.get("/appointments", as_="front_desk", query_string={"location_id": loc.id, "date": DAY})
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert r.status_code == 200
        return len(r.get_json()["items"]), seen

    for patient, (code, hm) in zip(pats[:2], plan[:2]):
        booked(api, patient, code, loc.id, at(hm))
    n2, with_two = day_sheet_statements()
    for patient, (code, hm) in zip(pats[2:], plan[2:]):
        booked(api, patient, code, loc.id, at(hm))
    n12, with_twelve = day_sheet_statements()
    assert (n2, n12) == (2, 12)
    assert len(with_two) == len(with_twelve), (with_two, with_twelve)
    real = [s for s in with_twelve if not s.strip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK"))]
    # The key, the location, the appointments with their people, their texts, their flags.
    assert len(real) <= 5, real


# ---------------------------------------------------------------- every 409 a booking can get


def test_409_provider_unavailable(api, clinic, app):
    p = clinic.patients
    stranger = c.provider("Dr. Elsewhere", ["prescriber"]).id  # works nowhere
    db.session.add(TimeOff(provider_id=clinic.presc, start_at=instant("12:00"), end_at=instant("13:00")))
    c.commit()
    refused(book(api, p[0], "consultation", clinic.loc, at("10:00"), provider_id=stranger), 409,
            "provider_unavailable")
    refused(book(api, p[0], "consultation", clinic.loc, at("16:30")), 409, "provider_unavailable")  # hours
    refused(book(api, p[0], "consultation", clinic.loc, at("12:30")), 409, "provider_unavailable")  # time off
    booked(api, p[0], "consultation", clinic.loc, at("09:00"))
    refused(book(api, p[1], "consultation", clinic.loc, at("09:30")), 409, "provider_unavailable")  # busy
    booked(api, p[1], "consultation", clinic.loc, at("10:00"))


def test_409_room_unavailable(api, clinic):
    p = clinic.patients
    refused(book(api, p[0], "ketamine_iv", clinic.loc, at("09:00"), room_id=clinic.therapy[0]), 409,
            "room_unavailable")  # wrong kind
    booked(api, p[0], "ketamine_iv", clinic.loc, at("09:00"), room_id=clinic.treatment[0])
    refused(book(api, p[1], "ketamine_iv", clinic.loc, at("10:45"), room_id=clinic.treatment[0]), 409,
            "room_unavailable")  # turnover until 10:55
    booked(api, p[1], "ketamine_iv", clinic.loc, at("09:00"))
    refused(book(api, p[2], "ketamine_iv", clinic.loc, at("09:30")), 409, "room_unavailable")


def test_409_monitoring_capacity(api, clinic):
    # Both clinicians leave at 17:00; an IV at 16:00 is monitored until 17:40.
    refused(book(api, clinic.patients[0], "ketamine_iv", clinic.loc, at("16:00")), 409, "monitoring_capacity")
    booked(api, clinic.patients[0], "ketamine_iv", clinic.loc, at("15:15"))


def test_409_after_closing_and_clinic_closed(api, app):
    loc = c.location(opening=("07:00", "19:00"), days=("mon", "tue", "wed", "thu", "fri"))
    c.rooms(loc, "treatment", 1)
    c.rooms(loc, "therapy", 1)
    c.provider("Dr. P", ["prescriber"], at=loc, hours=("06:00", "22:00"))
    c.provider("Nurse N", ["nurse"], at=loc, hours=("06:00", "22:00"))
    (p,) = patients(loc, 1)
    c.commit()
    refused(book(api, p, "ketamine_iv", loc.id, at("18:00")), 409, "after_closing")
    refused(book(api, p, "consultation", loc.id, at("18:15")), 409, "after_closing")
    refused(book(api, p, "consultation", loc.id, at("06:00")), 409, "clinic_closed")
    refused(book(api, p, "consultation", loc.id, at("19:00")), 409, "clinic_closed")
    refused(book(api, p, "consultation", loc.id, at("10:00", "2030-01-12")), 409, "clinic_closed")  # Saturday
    booked(api, p, "consultation", loc.id, at("18:00"))


def test_409_license(api, app):
    pdx = c.location("Portland", "OR")
    c.rooms(pdx, "therapy", 1)
    c.provider("Dr. California", ["prescriber"], states=("CA",), at=pdx)
    (p,) = patients(pdx, 1)
    c.commit()
    refused(book(api, p, "consultation", pdx.id, at("10:00")), 409, "license")


def test_409_patient_overlap_and_one_dosing_per_day(api, clinic):
    p = clinic.patients[0]
    booked(api, p, "ketamine_iv", clinic.loc, at("09:00"))
    refused(book(api, p, "integration", clinic.loc, at("10:00")), 409, "patient_overlap")
    refused(book(api, p, "consultation", clinic.loc, at("08:30")), 409, "patient_overlap")
    refused(book(api, p, "ketamine_im", clinic.loc, at("15:00")), 409, "one_dosing_per_day")
    booked(api, p, "integration", clinic.loc, at("11:00"))


def test_409_consultation_required_until_a_consultation_is_fulfilled(api, clinic, app, clock):
    (p,) = patients(db.session.get(Location, clinic.loc), 1, cleared=False)
    c.commit()
    refused(book(api, p, "ketamine_iv", clinic.loc, at("09:00", NEXT_DAY)), 409, "consultation_required")
    consult = booked(api, p, "consultation", clinic.loc, at("09:00"))
    assert consult["provider_id"] == clinic.presc
    refused(book(api, p, "ketamine_iv", clinic.loc, at("09:00", NEXT_DAY)), 409, "consultation_required")
    clock.set(instant("08:50"))
    assert act(api, consult["id"], "check-in").status_code == 200
    refused(book(api, p, "ketamine_iv", clinic.loc, at("09:00", NEXT_DAY)), 409, "consultation_required")
    clock.set(instant("10:00"))
    assert act(api, consult["id"], "complete").json["status"] == "fulfilled"
    booked(api, p, "ketamine_iv", clinic.loc, at("09:00", NEXT_DAY))


def test_409_travel_time(api, app):
    sb, pas = c.location("Santa Barbara"), c.location("Pasadena")
    for loc in (sb, pas):
        c.rooms(loc, "therapy", 1)
    presc = c.provider("Dr. Roaming", ["prescriber"])
    c.work(presc, sb)
    c.work(presc, pas)
    c.travel(sb, pas, 60)
    p1, p2 = patients(sb, 2)
    c.commit()
    booked(api, p1, "consultation", sb.id, at("09:00"))
    refused(book(api, p2, "consultation", pas.id, at("10:45")), 409, "travel_time")
    refused(book(api, p2, "consultation", pas.id, at("07:00")), 409, "provider_unavailable")
    refused(book(api, p2, "consultation", pas.id, at("08:00")), 409, "travel_time")  # must leave by 08:00
    booked(api, p2, "consultation", pas.id, at("11:00"))  # the pair's own setting: 60 minutes


def test_409_rems_prescriber(api, app):
    loc = c.location()
    c.rooms(loc, "treatment", 1)
    c.provider("Dr. P", ["prescriber"], at=loc, hours=("08:00", "12:00"))
    c.provider("Nurse N", ["nurse"], at=loc, hours=("08:00", "19:00"))
    (p,) = patients(loc, 1)
    c.commit()
    refused(book(api, p, "esketamine_nasal", loc.id, at("10:00")), 409, "rems_prescriber")
    booked(api, p, "esketamine_nasal", loc.id, at("09:45"))


def test_409_too_soon(api, clinic):
    # Now is Tue 2030-01-01 08:00; dosing needs two hours' notice.
    refused(book(api, clinic.patients[0], "ketamine_iv", clinic.loc, c.local("2030-01-01", "09:45")), 409,
            "too_soon")
    refused(book(api, clinic.patients[0], "ketamine_iv", clinic.loc, c.local("2029-12-31", "10:00")), 409,
            "too_soon")
    assert starts(api, clinic.loc, "ketamine_iv", c.local("2030-01-01", "08:00"),
                  c.local("2030-01-01", "10:30"))[0] == c.local("2030-01-01", "10:00")
    booked(api, clinic.patients[0], "ketamine_iv", clinic.loc, c.local("2030-01-01", "10:00"))


def test_409_telehealth_not_allowed(api, clinic):
    refused(book(api, clinic.patients[0], "ketamine_iv", clinic.loc, at("09:00"), telehealth=True), 409,
            "telehealth_not_allowed")
    appt = booked(api, clinic.patients[0], "consultation", clinic.loc, at("09:00"), telehealth=True)
    assert appt["room_id"] is None and appt["telehealth"] is True


def test_409_provider_not_qualified(api, clinic):
    p = clinic.patients[0]
    refused(book(api, p, "integration", clinic.loc, at("09:00"), provider_id=clinic.nurse), 409,
            "provider_not_qualified")
    refused(book(api, p, "ketamine_sublingual", clinic.loc, at("09:00"), provider_id=clinic.nurse), 409,
            "provider_not_qualified")
    refused(book(api, p, "consultation", clinic.loc, at("09:00"), provider_id=clinic.therapist), 409,
            "provider_not_qualified")
    booked(api, p, "ketamine_sublingual", clinic.loc, at("09:00"))


def test_409_slot_unavailable_when_the_database_refuses_a_lost_race(api, clinic, monkeypatch):
    """Unreachable through the rules alone (they run under the booking's write lock): a
    stale check is simulated by hiding the patient from the rules, so the second dosing
    session of the day gets past them and the database's own guard (unique index on
    patient and local date for dosing) refuses it; the API answers slot_unavailable."""
    from scheduler.services.scheduling import booking

    real = booking.check_start

    def blind(site, spec, start, staff, rooms, now, patient=None, *args):
        return real(site, spec, start, staff, rooms, now, None, *args)

    p = clinic.patients[0]
    booked(api, p, "ketamine_iv", clinic.loc, at("09:00"))
    monkeypatch.setattr(booking, "check_start", blind)
    refused(book(api, p, "ketamine_im", clinic.loc, at("14:00")), 409, "slot_unavailable")
    assert appointment_count() == 1


# ---------------------------------------------------------------- 422s


def test_422_unknown_ids_name_the_field(api, clinic):
    p = clinic.patients[0]
    for field, body in (
            ("patient_id", dict(patient_id=99999, session_type="ketamine_iv", loc_id=clinic.loc)),
            ("location_id", dict(patient_id=p, session_type="ketamine_iv", loc_id=99999)),
            ("provider_id", dict(patient_id=p, session_type="ketamine_iv", loc_id=clinic.loc, provider_id=99999)),
            ("room_id", dict(patient_id=p, session_type="ketamine_iv", loc_id=clinic.loc, room_id=99999)),
            ("follows_appointment_id", dict(patient_id=p, session_type="integration", loc_id=clinic.loc,
                                            follows_appointment_id=99999))):
        answer = refused(book(api, start=at("09:00"), **body), 422, "validation_error", fields=[field])
        assert list(answer["errors"]) == [field]
    refused(book(api, 99999, "ketamine_iv", 99998, at("09:00"), provider_id=99997), 422,
                   "validation_error", fields=["patient_id", "location_id", "provider_id"])
    assert appointment_count() == 0


def test_422_naive_start_unknown_session_type_and_missing_fields(api, clinic):
    p = clinic.patients[0]
    refused(book(api, p, "ketamine_iv", clinic.loc, "2030-01-07T09:00:00"), 422, "validation_error",
            fields=["start"])
    refused(book(api, p, "ketamine_iv", clinic.loc, "next tuesday"), 422, "validation_error", fields=["start"])
    refused(book(api, p, "ketamine_oral", clinic.loc, at("09:00")), 422, "validation_error",
            fields=["session_type"])
    r = api.post("/appointments", json={}, as_="front_desk")
    refused(r, 422, "validation_error", fields=["patient_id", "session_type", "location_id", "start"])
    assert appointment_count() == 0


# ---------------------------------------------------------------- a clinician elsewhere is not here


def _two_sites():
    """Santa Barbara and Pasadena (90 min apart); a nurse works at both, a prescriber only in
    Pasadena (monitoring ratio 1 there)."""
    sb = c.location("Santa Barbara")
    pas = c.location("Pasadena", ratio=1)
    for loc in (sb, pas):
        c.rooms(loc, "treatment", 3)
    nurse = c.provider("Nurse Both", ["nurse"])
    c.work(nurse, sb)
    c.work(nurse, pas)
    presc = c.provider("Dr. Pasadena", ["prescriber"], at=pas)
    pats = patients(sb, 3)
    c.commit()
    return sb.id, pas.id, nurse.id, presc.id, pats


def test_a_clinician_at_another_location_does_not_watch_here(api, app):
    """The nurse administers in Santa Barbara at 08:00 and needs 90 minutes to reach
    Pasadena (10:10). Until then only the prescriber is in Pasadena: with ratio 1 they cannot
    administer to B while A (monitored 08:40-09:40) needs watching."""
    sb, pas, nurse, presc, (s, a, b) = _two_sites()
    assert booked(api, s, "ketamine_iv", sb, at("08:00"))["provider_id"] == nurse
    assert booked(api, a, "ketamine_iv", pas, at("08:00"))["provider_id"] == presc
    refused(book(api, b, "ketamine_iv", pas, at("08:45")), 409, "monitoring_capacity")
    assert starts(api, pas, "ketamine_iv", at("08:00"), at("10:00"), patient_id=b) == [at("09:45")]


def test_rems_a_prescriber_at_another_location_is_not_on_site(api, app):
    sb, pas = c.location("Santa Barbara"), c.location("Pasadena")
    for loc in (sb, pas):
        c.rooms(loc, "treatment", 1)
        c.rooms(loc, "therapy", 1)
        c.provider(f"Nurse {loc.name}", ["nurse"], at=loc)
    presc = c.provider("Dr. Roaming", ["prescriber"])
    c.work(presc, sb)
    c.work(presc, pas)
    p1, p2 = patients(sb, 2)
    c.commit()
    booked(api, p1, "consultation", sb.id, at("12:00"))  # in Santa Barbara 10:30-14:30 with travel
    refused(book(api, p2, "esketamine_nasal", pas.id, at("09:00")), 409, "rems_prescriber")
    # The prescriber is in Pasadena 08:00-10:30 and 14:30-17:00; the chair time is 135 min.
    assert starts(api, pas.id, "esketamine_nasal", at("08:00"), at("17:00"), patient_id=p2) == \
        [at("08:00"), at("08:15"), at("14:30"), at("14:45")]
    booked(api, p2, "esketamine_nasal", pas.id, at("14:30"))
