"""Daylight saving time through the API (Example 10 and 11): wall-clock rules stay at their
wall-clock time, the spring gap offers nothing, the fall-back hour is offered once, and
every instant in a response carries the location's offset of that moment (-08:00 in
winter, -07:00 in summer). "Now" is put at 2027-03-01 so the 2027 dates are bookable.
"""
import datetime as dt

import pytest

from tests.support import clinic as c

UTC = dt.timezone.utc
SPRING = "2027-03-14"  # 02:00 PST -> 03:00 PDT
FALL = "2027-11-07"  # 02:00 PDT -> 01:00 PST


@pytest.fixture(autouse=True)
def _before_2027(clock):
    clock.set(dt.datetime(2027, 3, 1, tzinfo=UTC))


def slots(api, loc_id, session_type, start, end):
    r = api.get("/slots", as_="front_desk", query_string={
        "location_id": loc_id, "session_type": session_type, "start": start, "end": end})
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()["slots"]


def book(api, patient_id, session_type, loc_id, start, **extra):
    r = api.post("/appointments", as_="front_desk", json={
        "patient_id": patient_id, "session_type": session_type, "location_id": loc_id, "start": start, **extra})
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


_phones = iter(range(100, 10_000))


def clinic(hours=("08:00", "17:00"), therapy=2, treatment=0, nurse=False):
    loc = c.location(opening=("00:00", "24:00"))
    if therapy:
        c.rooms(loc, "therapy", therapy)
    if treatment:
        c.rooms(loc, "treatment", treatment)
    c.provider("Dr. Daily", ["prescriber"], at=loc, hours=hours)
    if nurse:
        c.provider("Nurse Night", ["nurse"], at=loc, hours=hours)
    pats = [c.patient(loc, name=f"P{i}", phone=f"+1805555{next(_phones):04d}").id for i in range(3)]
    c.commit()
    return loc.id, pats


@pytest.mark.parametrize("day, first, first_utc", [
    ("2027-03-13", "2027-03-13T08:00:00-08:00", "2027-03-13T16:00:00Z"),
    ("2027-03-14", "2027-03-14T08:00:00-07:00", "2027-03-14T15:00:00Z"),
    ("2027-11-06", "2027-11-06T08:00:00-07:00", "2027-11-06T15:00:00Z"),
    ("2027-11-07", "2027-11-07T08:00:00-08:00", "2027-11-07T16:00:00Z"),
])
def test_a_wall_clock_rule_gives_0800_local_on_both_sides(app, api, day, first, first_utc):
    loc, (p, *_) = clinic()
    found = slots(api, loc, "consultation", c.local(day, "00:00"), c.local(day, "23:00"))
    assert found[0]["start"] == first
    assert found[-1]["start"] == first.replace("T08:00", "T16:00")
    assert found[-1]["end"] == first.replace("T08:00", "T17:00")
    offset = first[-6:]
    assert all(s["start"].endswith(offset) and s["end"].endswith(offset) for s in found)
    # Booked with a UTC instant, answered in the location's offset of that day.
    appt = book(api, p, "consultation", loc, first_utc)
    assert (appt["start"], appt["end"]) == (first, first.replace("T08:00", "T09:00"))


def test_a_search_across_the_spring_change_switches_offset(app, api):
    loc, _ = clinic()
    found = slots(api, loc, "consultation", "2027-03-13T08:00:00Z", "2027-03-15T07:00:00Z")
    firsts = {}
    for s in found:
        firsts.setdefault(s["start"][:10], s["start"])
    assert firsts == {"2027-03-13": "2027-03-13T08:00:00-08:00", "2027-03-14": "2027-03-14T08:00:00-07:00"}
    assert len(found) == 2 * 33


def test_no_slot_in_the_spring_gap(app, api):
    loc, (p, *_) = clinic(hours=("01:00", "04:00"))
    found = slots(api, loc, "consultation", c.local(SPRING, "00:00"), c.local(SPRING, "12:00"))
    assert [s["start"] for s in found] == [
        "2027-03-14T01:00:00-08:00", "2027-03-14T01:15:00-08:00", "2027-03-14T01:30:00-08:00",
        "2027-03-14T01:45:00-08:00", "2027-03-14T03:00:00-07:00"]
    # 01:45 PST + 60 min is 03:45 PDT.
    assert found[3]["end"] == "2027-03-14T03:45:00-07:00"
    # "02:00-08:00" is a real instant (10:00Z), which the clock on the wall shows as 03:00 PDT.
    appt = book(api, p, "consultation", loc, "2027-03-14T02:00:00-08:00")
    assert (appt["start"], appt["end"]) == ("2027-03-14T03:00:00-07:00", "2027-03-14T04:00:00-07:00")


def test_the_fall_back_hour_is_offered_once(app, api):
    loc, (p1, p2, _) = clinic(hours=("00:00", "04:00"))
    found = slots(api, loc, "consultation", c.local(FALL, "00:00"), c.local(FALL, "12:00"))
    starts = [s["start"] for s in found]
    walls = [s[11:16] for s in starts]
    assert len(walls) == len(set(walls)) == 13
    assert walls == ["00:00", "00:15", "00:30", "00:45", "01:00", "01:15", "01:30", "01:45",
                     "02:00", "02:15", "02:30", "02:45", "03:00"]
    assert all(s.endswith("-07:00") for s in starts[:8]) and all(s.endswith("-08:00") for s in starts[8:])
    # The two 01:30s are two instants; each comes back with its own offset, in start order.
    first = book(api, p1, "consultation", loc, "2027-11-07T01:30:00-07:00")
    second = book(api, p2, "consultation", loc, "2027-11-07T09:30:00Z")
    assert first["start"] == "2027-11-07T01:30:00-07:00" and first["end"] == "2027-11-07T01:30:00-08:00"
    assert second["start"] == "2027-11-07T01:30:00-08:00" and second["end"] == "2027-11-07T02:30:00-08:00"
    sheet = api.get("/appointments", as_="front_desk", query_string={"location_id": loc, "date": FALL})
    assert [a["start"] for a in sheet.get_json()["items"]] == [first["start"], second["start"]]


def test_a_dosing_session_across_the_spring_change_lasts_its_real_minutes(app, api):
    loc, (p, *_) = clinic(hours=("00:00", "06:00"), therapy=0, treatment=1, nurse=True)
    appt = book(api, p, "ketamine_iv", loc, "2027-03-14T01:30:00-08:00")
    assert appt["start"] == "2027-03-14T01:30:00-08:00"
    assert appt["administering_end"] == "2027-03-14T03:10:00-07:00"
    assert appt["monitoring_start"] == "2027-03-14T03:10:00-07:00"
    assert appt["end"] == appt["monitoring_end"] == "2027-03-14T04:10:00-07:00"
    assert [cp["at"] for cp in appt["checkpoints"]] == [
        "2027-03-14T01:30:00-08:00", "2027-03-14T03:10:00-07:00", "2027-03-14T04:00:00-07:00"]


def test_check_in_follows_the_local_day_on_a_25_hour_day(app, api, clock):
    loc, (p, *_) = clinic(hours=("00:00", "04:00"))
    appt = book(api, p, "consultation", loc, "2027-11-07T01:30:00-07:00")
    clock.set(dt.datetime(2027, 11, 8, 8, 0, tzinfo=UTC))  # 2027-11-08 00:00 PST: the day after
    r = api.post(f"/appointments/{appt['id']}/check-in", as_="front_desk")
    assert r.status_code == 409 and r.get_json()["code"] == "invalid_transition"
    clock.set(dt.datetime(2027, 11, 8, 7, 59, tzinfo=UTC))  # 2027-11-07 23:59 PST: still the day
    r = api.post(f"/appointments/{appt['id']}/check-in", as_="front_desk")
    assert r.status_code == 200 and r.get_json()["status"] == "checked-in"


def test_naive_times_are_refused_even_when_unambiguous(app, api):
    loc, (p, *_) = clinic()
    r = api.post("/appointments", as_="front_desk", json={
        "patient_id": p, "session_type": "consultation", "location_id": loc, "start": "2027-11-07T01:30:00"})
    assert r.status_code == 422 and "start" in r.get_json()["errors"]
