"""The worked examples of EXAMPLES.md (1-11), each through the HTTP API.

Every example is set up with the ORM builders of tests/support/clinic.py, then asked of
GET /api/v1/slots and POST /api/v1/appointments, asserting exact slot times and exact
409 codes. Monday 2030-01-07 is the default day; "now" is Tue 2030-01-01 08:00 LA, so
minimum notice is not in play.
"""
import datetime as dt

import pytest

from tests.support import clinic as c

DAY = "2030-01-07"  # a Monday
NEXT_DAY = "2030-01-08"


# ---------------------------------------------------------------- helpers


def at(hm, day=DAY):
    return c.local(day, hm)


def grid(first, last, day=DAY, step=15):
    """Local RFC 3339 starts from first to last inclusive, every step minutes."""
    t = dt.datetime.fromisoformat(f"{day}T{first}")
    stop = dt.datetime.fromisoformat(f"{day}T{last}")
    out = []
    while t <= stop:
        out.append(at(t.strftime("%H:%M"), day))
        t += dt.timedelta(minutes=step)
    return out


def slots(api, loc_id, session_type, start=None, end=None, **params):
    query = {"location_id": loc_id, "session_type": session_type, **params}
    if start is not None:
        query["start"] = start
    if end is not None:
        query["end"] = end
    r = api.get("/slots", query_string=query, as_="front_desk")
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()["slots"]


def starts(api, loc_id, session_type, start, end, **params):
    return [s["start"] for s in slots(api, loc_id, session_type, start, end, **params)]


def book(api, patient_id, session_type, loc_id, start, **extra):
    body = {"patient_id": patient_id, "session_type": session_type, "location_id": loc_id,
            "start": start, **extra}
    return api.post("/appointments", json=body, as_="front_desk")


def booked(api, *args, **kwargs):
    r = book(api, *args, **kwargs)
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def refused(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == code, body
    assert body["message"]
    return body


_phones = iter(range(100, 10_000))


def patients(loc, n, cleared=True):
    return [c.patient(loc, name=f"Patient {i}", phone=f"+1805555{next(_phones):04d}", cleared=cleared)
            for i in range(n)]


# ---------------------------------------------------------------- 1. staff hours bound monitoring


def test_example_1_staff_hours_bound_the_monitoring_window(app, api):
    """Clinic 07:00-19:00, prescriber and nurse 08:00-17:00, two treatment rooms: IV (40+60)
    starts from 08:00 to 15:15; 15:30 would leave the patient unmonitored 17:00-17:10."""
    loc = c.location(opening=("07:00", "19:00"))
    c.rooms(loc, "treatment", 2)
    c.provider("Dr. Presc", ["prescriber"], at=loc, hours=("08:00", "17:00"))
    c.provider("Nurse N", ["nurse"], at=loc, hours=("08:00", "17:00"))
    (p,) = patients(loc, 1)
    c.commit()

    found = slots(api, loc.id, "ketamine_iv", at("07:00"), at("19:00"))
    assert [s["start"] for s in found] == grid("08:00", "15:15")
    assert found[-1]["end"] == at("16:55")

    refused(book(api, p.id, "ketamine_iv", loc.id, at("15:30")), 409, "monitoring_capacity")
    refused(book(api, p.id, "ketamine_iv", loc.id, at("07:45")), 409, "monitoring_capacity")
    appt = booked(api, p.id, "ketamine_iv", loc.id, at("15:15"))
    assert (appt["start"], appt["monitoring_start"], appt["end"]) == (at("15:15"), at("15:55"), at("16:55"))


# ---------------------------------------------------------------- 2. an administering clinician is not watching


def _lone_prescriber(with_nurse=False):
    loc = c.location(ratio=1)
    c.rooms(loc, "treatment", 3)
    presc = c.provider("Dr. Alone", ["prescriber"], at=loc)
    nurse = c.provider("Nurse N", ["nurse"], at=loc) if with_nurse else None
    a, b = patients(loc, 2)
    c.commit()
    return loc, presc, nurse, a, b


def test_example_2_a_clinician_who_administers_is_not_monitoring(app, api):
    loc, presc, _, a, b = _lone_prescriber()
    first = booked(api, a.id, "ketamine_iv", loc.id, at("09:00"))
    assert first["provider_id"] == presc.id
    assert (first["administering_end"], first["monitoring_end"]) == (at("09:40"), at("10:40"))

    refused(book(api, b.id, "ketamine_iv", loc.id, at("09:45")), 409, "monitoring_capacity")
    # A's monitoring ends at 10:40; the grid rounds up to 10:45.
    assert starts(api, loc.id, "ketamine_iv", at("09:00"), at("12:00"), patient_id=b.id) == \
        grid("10:45", "11:45")
    refused(book(api, b.id, "ketamine_iv", loc.id, at("10:30")), 409, "monitoring_capacity")
    booked(api, b.id, "ketamine_iv", loc.id, at("10:45"))


def test_example_2_with_a_nurse_on_duty_one_administers_the_other_watches(app, api):
    loc, presc, nurse, a, b = _lone_prescriber(with_nurse=True)
    booked(api, a.id, "ketamine_iv", loc.id, at("09:00"), provider_id=presc.id)
    assert at("09:45") in starts(api, loc.id, "ketamine_iv", at("09:00"), at("12:00"), patient_id=b.id)
    second = booked(api, b.id, "ketamine_iv", loc.id, at("09:45"))
    assert second["provider_id"] in (presc.id, nurse.id)


# ---------------------------------------------------------------- 3. capacity is a count


def test_example_3_capacity_is_a_count(app, api):
    """One nurse (08:00-17:00), ratio 3, five treatment rooms, a prescriber who administers.

    The prescriber is a clinician too, so whenever they are on site and not administering
    they also watch. To make "the nurse is the only watcher" true, the prescriber works
    08:00-09:00 only: they administer IM sessions (15 + 60 min) at 08:00, 08:15 and 08:30,
    so from 08:45 three patients are monitored at once (allowed), and from 09:00 the nurse
    is the only watcher of all three. A fourth IM at 08:45 (its monitoring 09:00-10:00
    overlaps all three windows) is refused with monitoring_capacity. Once the windows
    drain (the last ends 09:45) the fourth may start.
    """
    loc = c.location(ratio=3)
    c.rooms(loc, "treatment", 5)
    presc = c.provider("Dr. Early", ["prescriber"], at=loc, hours=("08:00", "09:00"))
    nurse = c.provider("Nurse Only", ["nurse"], at=loc, hours=("08:00", "17:00"))
    p1, p2, p3, p4 = patients(loc, 4)
    c.commit()

    for patient, hm in ((p1, "08:00"), (p2, "08:15"), (p3, "08:30")):
        appt = booked(api, patient.id, "ketamine_im", loc.id, at(hm), provider_id=presc.id)
        assert appt["monitoring_end"] == at((dt.datetime.fromisoformat(f"{DAY}T{hm}")
                                             + dt.timedelta(minutes=75)).strftime("%H:%M"))
    # From 08:45 to 09:15 all three are in their monitoring windows at once.
    refused(book(api, p4.id, "ketamine_im", loc.id, at("08:45")), 409, "monitoring_capacity")
    refused(book(api, p4.id, "ketamine_im", loc.id, at("08:45"), provider_id=nurse.id), 409,
            "monitoring_capacity")
    # The nurse alone cannot administer while anyone else still needs watching: 09:45 is the first.
    assert starts(api, loc.id, "ketamine_im", at("08:45"), at("10:00"), patient_id=p4.id) == [at("09:45")]
    assert booked(api, p4.id, "ketamine_im", loc.id, at("09:45"))["provider_id"] == nurse.id


# ---------------------------------------------------------------- 4. REMS


def test_example_4_rems_prescriber_on_site_for_the_whole_chair_time(app, api):
    loc = c.location(opening=("07:00", "19:00"))
    c.rooms(loc, "treatment", 2)
    c.provider("Dr. Until Five", ["prescriber"], at=loc, hours=("08:00", "17:00"))
    c.provider("Nurse Late", ["nurse"], at=loc, hours=("08:00", "19:00"))
    c.provider("Nurse Later", ["nurse"], at=loc, hours=("08:00", "19:00"))
    (p,) = patients(loc, 1)
    c.commit()

    found = slots(api, loc.id, "esketamine_nasal", at("13:00"), at("19:00"))
    assert [s["start"] for s in found] == grid("13:00", "14:45")
    assert found[-1]["end"] == at("17:00")  # 15 + 120 = 135 min of chair time
    refused(book(api, p.id, "esketamine_nasal", loc.id, at("15:00")), 409, "rems_prescriber")
    # Without REMS (IV, 100 min of chair time) the nurses carry on: the latest start is 17:15.
    assert starts(api, loc.id, "ketamine_iv", at("15:00"), at("19:00"))[-1] == at("17:15")
    appt = booked(api, p.id, "esketamine_nasal", loc.id, at("14:45"))
    assert appt["end"] == at("17:00")


def test_example_4_rems_type_refuses_monitoring_under_120(app, api):
    r = api.patch("/session-types/esketamine_nasal", json={"monitoring_minutes": 90})
    body = refused(r, 422, "rems_minimum")
    assert "monitoring_minutes" in body["errors"]
    st = api.get("/session-types/esketamine_nasal").get_json()
    assert st["monitoring_minutes"] == 120 and st["rems"] is True
    assert api.patch("/session-types/esketamine_nasal", json={"monitoring_minutes": 150}).status_code == 200


# ---------------------------------------------------------------- 5. rooms


def test_example_5_rooms_hold_one_patient_plus_turnover(app, api):
    loc = c.location(slot_minutes=5)  # a 5-minute grid, so 10:55 is a grid point
    r1, r2 = c.rooms(loc, "treatment", 2)
    presc = c.provider("Dr. P", ["prescriber"], at=loc)
    nurse = c.provider("Nurse N", ["nurse"], at=loc)
    a, b, third = patients(loc, 3)
    c.commit()

    first = booked(api, a.id, "ketamine_iv", loc.id, at("09:00"))
    second = booked(api, b.id, "ketamine_iv", loc.id, at("09:00"))
    assert {first["provider_id"], second["provider_id"]} == {presc.id, nurse.id}
    assert {first["room_id"], second["room_id"]} == {r1.id, r2.id}
    assert first["end"] == at("10:40")

    refused(book(api, third.id, "ketamine_iv", loc.id, at("09:00")), 409, "room_unavailable")
    # Both rooms are used until 10:40, then cleaned for 15 minutes.
    assert starts(api, loc.id, "ketamine_iv", at("09:00"), at("11:05"), patient_id=third.id) == \
        [at("10:55"), at("11:00")]
    refused(book(api, third.id, "ketamine_iv", loc.id, at("10:50")), 409, "room_unavailable")
    booked(api, third.id, "ketamine_iv", loc.id, at("10:55"))


# ---------------------------------------------------------------- 6. licensure


def _three_clinics():
    sb = c.location("Santa Barbara", "CA")
    pas = c.location("Pasadena", "CA")
    pdx = c.location("Portland", "OR")
    for loc in (sb, pas, pdx):
        c.rooms(loc, "therapy", 2)
    return sb, pas, pdx


def test_example_6_an_oregon_only_therapist_is_never_offered_in_california(app, api):
    sb, pas, pdx = _three_clinics()
    oregon = c.provider("T. Oregon", ["therapist"], states=("OR",))
    for loc in (sb, pas, pdx):
        c.work(oregon, loc)
    californian = c.provider("T. Cal", ["therapist"], states=("CA",), at=sb)
    (p,) = patients(sb, 1)
    c.commit()

    at_sb = slots(api, sb.id, "integration", at("08:00"), at("17:00"))
    assert at_sb and all(s["providers"] == [californian.id] for s in at_sb)
    for loc in (sb, pas):
        assert slots(api, loc.id, "integration", at("08:00"), at("17:00"), provider_id=oregon.id) == []
        refused(book(api, p.id, "integration", loc.id, at("10:00"), provider_id=oregon.id), 409, "license")
    refused(book(api, p.id, "integration", pas.id, at("10:00")), 409, "license")
    # In Portland they are offered.
    assert slots(api, pdx.id, "integration", at("08:00"), at("17:00"))[0]["providers"] == [oregon.id]


def test_example_6_telehealth_needs_a_licence_where_the_patient_is(app, api):
    sb, pas, pdx = _three_clinics()
    cal_only = c.provider("T. Cal", ["therapist"], states=("CA",), at=sb)
    both = c.provider("T. Both", ["therapist"], states=("CA", "OR"), at=sb)
    or_only = c.provider("T. Oregon", ["therapist"], states=("OR",), at=pdx)
    (portlander,) = patients(pdx, 1)
    (angeleno,) = patients(pas, 1)
    c.commit()

    found = slots(api, sb.id, "integration", at("09:00"), at("10:00"), telehealth="true",
                  patient_id=portlander.id)
    assert [s["start"] for s in found] == grid("09:00", "09:45")
    assert all(s["providers"] == [both.id] and s["rooms"] == [] for s in found)
    refused(book(api, portlander.id, "integration", sb.id, at("09:00"), telehealth=True,
                 provider_id=cal_only.id), 409, "license")
    appt = booked(api, portlander.id, "integration", sb.id, at("09:00"), telehealth=True)
    assert appt["provider_id"] == both.id and appt["room_id"] is None

    # The other way round: a Californian seen by telehealth from Portland needs a CA licence.
    refused(book(api, angeleno.id, "integration", pdx.id, at("11:00"), telehealth=True,
                 provider_id=or_only.id), 409, "license")
    # In person at the therapist's location, the location's state decides.
    booked(api, angeleno.id, "integration", pdx.id, at("11:00"), provider_id=or_only.id)


# ---------------------------------------------------------------- 7. travel


@pytest.mark.parametrize("explicit_setting", [True, False], ids=["travel-row", "default-90"])
def test_example_7_travel_between_locations(app, api, explicit_setting):
    sb, pas, pdx = _three_clinics()
    if explicit_setting:
        c.travel(sb, pas, 90)
    presc = c.provider("Dr. Roaming", ["prescriber"], states=("CA", "OR"))
    for loc in (sb, pas, pdx):
        c.work(presc, loc)
    p1, p2, p3 = patients(sb, 3)
    c.commit()

    first = booked(api, p1.id, "consultation", sb.id, at("09:00"))
    assert first["end"] == at("10:00")

    assert starts(api, pas.id, "consultation", at("08:00"), at("12:00"), provider_id=presc.id) == \
        [at("11:30"), at("11:45")]
    refused(book(api, p2.id, "consultation", pas.id, at("11:15")), 409, "travel_time")
    booked(api, p2.id, "consultation", pas.id, at("11:30"))

    # Not the same day across states.
    assert slots(api, pdx.id, "consultation", at("00:00"), at("00:00", NEXT_DAY)) == []
    refused(book(api, p3.id, "consultation", pdx.id, at("15:00")), 409, "travel_time")
    assert starts(api, pdx.id, "consultation", at("08:00", NEXT_DAY), at("09:00", NEXT_DAY)) == \
        grid("08:00", "08:45", NEXT_DAY)


# ---------------------------------------------------------------- 8. patient rules


def _full_clinic(**kw):
    loc = c.location(**kw)
    c.rooms(loc, "treatment", 2)
    c.rooms(loc, "therapy", 2)
    c.provider("Dr. P", ["prescriber"], at=loc)
    c.provider("Nurse N", ["nurse"], at=loc)
    c.provider("T. Therapist", ["therapist"], at=loc)
    return loc


def test_example_8_patient_overlap_and_one_dosing_per_day(app, api):
    loc = _full_clinic()
    (p,) = patients(loc, 1)
    c.commit()

    booked(api, p.id, "ketamine_iv", loc.id, at("09:00"))  # in the chair 09:00-10:40
    refused(book(api, p.id, "integration", loc.id, at("10:00")), 409, "patient_overlap")
    integration = starts(api, loc.id, "integration", at("09:00"), at("12:00"), patient_id=p.id)
    assert integration == grid("10:45", "11:45")
    booked(api, p.id, "integration", loc.id, at("11:00"))

    refused(book(api, p.id, "ketamine_im", loc.id, at("14:00")), 409, "one_dosing_per_day")
    assert slots(api, loc.id, "ketamine_im", at("12:00"), at("17:00"), patient_id=p.id) == []
    booked(api, p.id, "ketamine_im", loc.id, at("14:00", NEXT_DAY))


@pytest.mark.parametrize("dosing", ["ketamine_iv", "ketamine_im", "ketamine_sublingual", "esketamine_nasal"])
def test_example_8_no_dosing_without_consultation_or_clearance(app, api, dosing):
    loc = _full_clinic()
    (p,) = patients(loc, 1, cleared=False)
    c.commit()

    refused(book(api, p.id, dosing, loc.id, at("09:00")), 409, "consultation_required")
    assert slots(api, loc.id, dosing, at("08:00"), at("17:00"), patient_id=p.id) == []
    booked(api, p.id, "consultation", loc.id, at("09:00"))
    # A consultation that is only booked (not fulfilled) does not clear the patient.
    refused(book(api, p.id, dosing, loc.id, at("09:00", NEXT_DAY)), 409, "consultation_required")


# ---------------------------------------------------------------- 9. integration after dosing


@pytest.mark.parametrize("step, first, last", [(15, "10:45", "10:30"), (5, "10:40", "10:40")])
def test_example_9_integration_defaults_to_72_hours_after_dosing(app, api, step, first, last):
    """A dosing session on Monday 09:00 (IV: ends 10:40): integration slots run from Monday
    10:40 to Thursday 10:40. On the 15-minute grid that is 10:45 Monday to 10:30 Thursday; on
    a 5-minute grid both bounds are slots themselves."""
    loc = _full_clinic(slot_minutes=step)
    (p,) = patients(loc, 1)
    c.commit()
    dosing = booked(api, p.id, "ketamine_iv", loc.id, at("09:00"))
    assert dosing["end"] == at("10:40")

    found = starts(api, loc.id, "integration", None, None, follows_appointment_id=dosing["id"],
                   patient_id=p.id)
    assert found[0] == at(first) and found[-1] == at(last, "2030-01-10")
    instants = [dt.datetime.fromisoformat(s) for s in found]
    lo = dt.datetime.fromisoformat(at("10:40"))
    assert all(lo <= t <= lo + dt.timedelta(hours=72) for t in instants)
    # Each day offers the therapist's whole day: Tuesday and Wednesday 08:00 to 16:10/16:00.
    latest = "16:10" if step == 5 else "16:00"
    for day in ("2030-01-08", "2030-01-09"):
        assert [t for t in found if t.startswith(day)] == grid("08:00", latest, day, step)

    appt = booked(api, p.id, "integration", loc.id, found[0], follows_appointment_id=dosing["id"])
    assert appt["follows_appointment_id"] == dosing["id"]


# ---------------------------------------------------------------- 10. DST


@pytest.mark.parametrize("day, expected", [
    ("2027-03-13", "2027-03-13T08:00:00-08:00"),
    ("2027-03-14", "2027-03-14T08:00:00-07:00"),
    ("2027-11-06", "2027-11-06T08:00:00-07:00"),
    ("2027-11-07", "2027-11-07T08:00:00-08:00"),
])
def test_example_10_wall_clock_rule_across_dst(app, api, clock, day, expected):
    clock.set(dt.datetime(2027, 3, 1, tzinfo=dt.timezone.utc))
    loc = c.location(opening=("00:00", "24:00"))
    c.rooms(loc, "therapy", 1)
    c.provider("Dr. Daily", ["prescriber"], at=loc, hours=("08:00", "17:00"))
    c.commit()

    found = starts(api, loc.id, "consultation", at("00:00", day), at("23:45", day))
    assert found[0] == expected
    assert found[-1] == expected.replace("T08:00", "T16:00")
    assert len(found) == len(set(found)) == 33  # 08:00 to 16:00, every 15 min


def test_example_10_no_slot_in_the_spring_gap_and_none_twice_in_the_fall_back_hour(app, api, clock):
    clock.set(dt.datetime(2027, 3, 1, tzinfo=dt.timezone.utc))
    loc = c.location(opening=("00:00", "24:00"))
    c.rooms(loc, "therapy", 1)
    c.provider("Dr. Night", ["prescriber"], at=loc, hours=("01:00", "04:00"))
    c.commit()

    spring = starts(api, loc.id, "consultation", at("00:00", "2027-03-14"), at("12:00", "2027-03-14"))
    assert spring == ["2027-03-14T01:00:00-08:00", "2027-03-14T01:15:00-08:00",
                      "2027-03-14T01:30:00-08:00", "2027-03-14T01:45:00-08:00",
                      "2027-03-14T03:00:00-07:00"]
    fall = starts(api, loc.id, "consultation", at("00:00", "2027-11-07"), at("12:00", "2027-11-07"))
    walls = [s[11:16] for s in fall]
    assert len(walls) == len(set(walls))
    assert walls == ["01:00", "01:15", "01:30", "01:45", "02:00", "02:15", "02:30", "02:45", "03:00"]
    assert all(s.endswith("-07:00") for s in fall[:4]) and all(s.endswith("-08:00") for s in fall[4:])


# ---------------------------------------------------------------- 11. offsets in and out


def test_example_11_offsets_in_and_out(app, api):
    loc = _full_clinic()
    a, b = patients(loc, 2)
    c.commit()

    utc = slots(api, loc.id, "ketamine_iv", "2030-01-07T17:00:00Z", "2030-01-07T19:00:00Z")
    local = slots(api, loc.id, "ketamine_iv", "2030-01-07T09:00:00-08:00", "2030-01-07T11:00:00-08:00")
    assert utc == local and utc[0]["start"] == "2030-01-07T09:00:00-08:00"

    first = booked(api, a.id, "ketamine_iv", loc.id, "2030-01-07T17:00:00Z")
    assert first["start"] == "2030-01-07T09:00:00-08:00"
    assert first["end"] == "2030-01-07T10:40:00-08:00"
    assert all(cp["at"].endswith("-08:00") for cp in first["checkpoints"])
    # The same instant written with an offset collides with the same provider and room.
    refused(book(api, b.id, "ketamine_iv", loc.id, "2030-01-07T09:00:00-08:00",
                 provider_id=first["provider_id"]), 409, "provider_unavailable")
    refused(book(api, b.id, "ketamine_iv", loc.id, "2030-01-07T09:00:00-08:00",
                 room_id=first["room_id"]), 409, "room_unavailable")

    naive = book(api, b.id, "ketamine_iv", loc.id, "2030-01-07T09:00:00")
    body = refused(naive, 422, "validation_error")
    assert "start" in body["errors"]
    r = api.get("/slots", as_="front_desk", query_string={
        "location_id": loc.id, "session_type": "ketamine_iv",
        "start": "2030-01-07T09:00:00", "end": "2030-01-07T11:00:00-08:00"})
    assert r.status_code == 422 and "start" in r.get_json()["errors"]
