"""Facts to intervals (domain/availability.py) and the Schedule value (domain/schedule.py)."""
import dataclasses
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.domain import audit as oracle
from scheduler.domain.availability import (
    day_block,
    location_state,
    opening_intervals,
    snapshot,
    spec_of,
    travel_block,
    weekly_intervals,
)
from scheduler.domain.intervals import Interval, StepFunction, clip
from scheduler.domain.localtime import local_span
from scheduler.domain.schedule import (
    AppointmentFacts,
    LocationFacts,
    RuleFacts,
    Schedule,
    TimeOffFacts,
    Violation,
    pairs,
    scope_of,
)
from scheduler.domain.scheduling import search, watching_slack
from tests.support.schedules import MON, NOW, TYPES, Clinic, at, hm

UTC = timezone.utc
LA = ZoneInfo("America/Los_Angeles")
SPRING, FALL = date(2027, 3, 14), date(2027, 11, 7)


def rule(weekday, start, end, **kw):
    return RuleFacts(1, 1, 1, weekday, time.fromisoformat(start), time.fromisoformat(end), **kw)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


# ---------------------------------------------------------------- weekly rules and opening hours


@pytest.mark.parametrize("day, first", [
    (date(2027, 3, 13), utc(2027, 3, 13, 16)), (SPRING, utc(2027, 3, 14, 15)),
    (date(2027, 11, 6), utc(2027, 11, 6, 15)), (FALL, utc(2027, 11, 7, 16))])
def test_a_wall_clock_rule_is_0800_local_on_both_sides_of_a_change(day, first):
    (span,) = weekly_intervals([rule(day.weekday(), "08:00", "17:00")], LA, [day])
    assert span == Interval(first, first + timedelta(hours=9))


def test_dst_gap_and_repeated_hour():
    assert weekly_intervals([rule(SPRING.weekday(), "02:00", "03:00")], LA, [SPRING]) == []
    (spring,) = weekly_intervals([rule(SPRING.weekday(), "01:00", "04:00")], LA, [SPRING])
    assert spring.duration == timedelta(hours=2)
    (fall,) = weekly_intervals([rule(FALL.weekday(), "01:00", "04:00")], LA, [FALL])
    assert fall.duration == timedelta(hours=4)
    (short,) = weekly_intervals([rule(FALL.weekday(), "01:00", "01:30")], LA, [FALL])
    assert short == Interval(utc(2027, 11, 7, 8), utc(2027, 11, 7, 8, 30))  # the first 01:00-01:30


def test_rule_dates_validity_and_midnight():
    days = [MON + timedelta(days=k) for k in range(14)]
    limited = rule(0, "08:00", "12:00", valid_from=MON + timedelta(days=1), valid_until=MON + timedelta(days=13))
    assert [hm(x.start) + " " + str(x.start.astimezone(LA).date()) for x in weekly_intervals([limited], LA, days)] \
        == ["08:00 2030-01-14"]
    # Monday to midnight (23:59:59 is stored for it) and Tuesday from midnight: one stretch.
    late, early = rule(0, "20:00", "23:59:59"), rule(1, "00:00", "04:00")
    assert weekly_intervals([late, early], LA, days[:2]) == [Interval(at("20:00"), at("04:00", MON + timedelta(days=1)))]


def test_opening_hours():
    hours = {"mon": [["08:00", "12:00"], ["13:00", "24:00"]], "tue": [["00:00", "06:00"]]}
    assert opening_intervals(hours, LA, [MON, MON + timedelta(days=1), MON + timedelta(days=2)]) == [
        Interval(at("08:00"), at("12:00")), Interval(at("13:00"), at("06:00", MON + timedelta(days=1)))]
    assert opening_intervals({}, LA, [MON]) == []


# ---------------------------------------------------------------- travel


def _appt(loc, start, minutes, id=1):
    return AppointmentFacts(id, 1, 1, loc.id, None, "consultation", start, start + timedelta(minutes=minutes),
                            start + timedelta(minutes=minutes), start.astimezone(loc.tz).date())


def test_travel_blocks():
    sb = LocationFacts(1, "America/Los_Angeles", "CA")
    pas = LocationFacts(2, "America/Los_Angeles", "CA")
    pdx = LocationFacts(3, "America/Los_Angeles", "OR")
    denver = LocationFacts(4, "America/Denver", "CO")
    b = _appt(sb, at("09:00"), 60)
    assert travel_block(b, pas, sb, 90) == [Interval(at("07:30"), at("11:30"))]
    assert travel_block(b, pdx, sb, 90) == [Interval(at("00:00"), at("00:00", MON + timedelta(days=1)))]
    # Across states each location counts its own dates: 23:30 in Los Angeles is Tuesday in Denver.
    late = _appt(sb, at("23:30"), 20)
    tue = MON + timedelta(days=1)
    assert travel_block(late, denver, sb, 90) == [Interval(at("00:00", MON, "America/Denver"),
                                                           at("00:00", tue, "America/Denver"))]
    night = _appt(denver, at("23:50", MON, "America/Denver"), 20)  # Monday 23:50 to Tuesday 00:10 there
    assert day_block(Interval(night.start, night.provider_end), denver, sb) == [
        Interval(at("00:00"), at("00:00", tue)), Interval(at("00:00", tue), at("00:00", tue + timedelta(days=1)))]


def test_spec_of_the_stored_type():
    spec = spec_of(TYPES["esketamine_nasal"])
    assert (spec.administering, spec.monitoring, spec.rems, spec.room_kind, spec.is_dosing) == (
        timedelta(minutes=15), timedelta(minutes=120), True, "treatment", True)
    assert spec.min_notice == timedelta(hours=2) and spec.capabilities == frozenset({"prescriber", "nurse"})


def test_watching_slack_counts_only_where_someone_is_monitored():
    slack = StepFunction(0, [(at("08:00"), 6), (at("09:00"), 2), (at("10:00"), 6), (at("17:00"), 0)])
    watched = watching_slack(slack, [Interval(at("09:30"), at("10:00"))], 3)
    assert [watched.value_at(at(x)) for x in ("07:00", "08:00", "09:00", "09:30", "10:00", "17:00")] == \
        [3, 6, 3, 2, 6, 3]


# ---------------------------------------------------------------- the snapshot, as the services build it today


def test_snapshot_answers_example_1_like_the_hand_built_values():
    c = Clinic()
    loc = c.location(opening=("07:00", "19:00"))
    c.room(loc, "treatment", 2)
    presc = c.provider(["prescriber"], at=loc)
    nurse = c.provider(["nurse"], at=loc)
    snap = snapshot(c.schedule(), loc.id, "ketamine_iv", Interval(at("00:00"), at("00:00", MON + timedelta(days=1))))
    found = search(snap.site, snap.spec, Interval(at("07:00"), at("19:00")), snap.staff, snap.rooms, NOW)
    assert hm(found[0].start) == "08:00" and hm(found[-1].start) == "15:15"
    assert [s.id for s in snap.staff] == [presc.id, nurse.id] and len(snap.rooms) == 2
    assert snap.site.slack.value_at(at("09:00")) == 6 and snap.patient is None


def test_snapshot_leaves_out_what_cannot_take_the_session():
    c = Clinic()
    loc, other = c.location(), c.location()
    r1, r2 = c.room(loc, "treatment", 2)
    c.room(loc, "therapy")
    c.room(other, "treatment")
    c.rooms[1] = dataclasses.replace(r2, active=False)
    nurse = c.provider(["nurse"], at=loc)
    gone = c.provider(["nurse"], at=loc)
    c.providers[-1] = dataclasses.replace(gone, active=False)
    c.provider(["nurse"], at=other)
    c.off(nurse, at("12:00"), at("13:00"))
    x = c.patient()
    first = c.book("ketamine_iv", loc, at("09:00"), nurse, x, r1)
    snap = snapshot(c.schedule(), loc.id, "ketamine_iv", Interval(at("09:00"), at("09:01")), x.id)
    assert [r.id for r in snap.rooms] == [r1.id] and [s.id for s in snap.staff] == [nurse.id]
    assert snap.rooms[0].busy == [Interval(at("09:00"), at("10:55"))] and snap.rooms[0].load == {MON: 100}
    monday = Interval(at("00:00"), at("00:00", MON + timedelta(days=1)))
    assert clip(snap.staff[0].on_site, monday) == [Interval(at("08:00"), at("12:00")), Interval(at("13:00"), at("17:00"))]
    assert snap.staff[0].busy == [Interval(at("09:00"), at("09:40"))] and snap.staff[0].load == {MON: 40}
    assert snap.patient.busy == [Interval(at("09:00"), at("10:40"))] and snap.patient.dosing_dates == {MON}
    moved = snapshot(c.schedule(), loc.id, "ketamine_iv", Interval(at("11:00"), at("11:01")), x.id, exclude_id=first.id)
    assert moved.rooms[0].busy == [] and moved.staff[0].busy == [] and moved.patient.dosing_dates == frozenset()


def test_location_state_counts_watchers_away_for_travel():
    c = Clinic()
    sb, pas = c.location(), c.location()
    nurse = c.provider(["nurse"])
    c.work(nurse, sb)
    c.work(nurse, pas)
    c.book("consultation", pas, at("12:00"), nurse)
    state = location_state(c.schedule(), sb.id, Interval(at("00:00"), at("00:00", MON + timedelta(days=1))))
    assert state.staff[0].travel == [Interval(at("10:30"), at("14:30"))]
    assert state.slack.value_at(at("10:00")) == 3 and state.slack.value_at(at("10:30")) == 0


# ---------------------------------------------------------------- the Schedule value


def test_schedule_changes_are_pure():
    c = Clinic()
    loc = c.location()
    nurse = c.provider(["nurse"], at=loc)
    a = c.book("ketamine_iv", loc, at("09:00"), nurse)
    s = c.schedule()
    cancelled = s.with_appointment(dataclasses.replace(a, status="cancelled"))
    assert a.id in s.appointments and a.id not in cancelled.appointments
    assert Schedule.of(appointments=[dataclasses.replace(a, status="noshow")], locations=[loc]).appointments == {}
    off = TimeOffFacts(99, nurse.id, at("08:00"), at("10:00"))
    assert s.with_time_off(off).without_time_off(99).time_off == s.time_off
    assert len(s.without_rule(c.rules[0].id).rules) == len(s.rules) - 1
    assert s.appointments_of_provider(nurse.id) == [a] and s.with_appointment(a) is not s
    assert s.travel_minutes(loc.id, loc.id) == 0 and s.travel_minutes(loc.id, 42) == 90
    assert s.with_travel(42, loc.id, 30).travel_minutes(loc.id, 42) == 30


def test_a_timezone_change_moves_local_dates():
    c = Clinic()
    loc = c.location()
    a = c.book("consultation", loc, at("23:30"), c.provider(["prescriber"], at=loc))
    s = c.schedule().with_location(dataclasses.replace(loc, timezone="America/Denver"))
    assert s.appointments[a.id].local_date == MON + timedelta(days=1)
    assert c.schedule().with_location(dataclasses.replace(loc, ratio=1)).appointments[a.id].local_date == MON


def test_facts_hold_utc_instants():
    start = datetime(2030, 1, 7, 9, tzinfo=LA)
    off = TimeOffFacts(1, 1, start, start + timedelta(hours=1))
    assert off.start.tzinfo is UTC and off.start == start
    with pytest.raises(ValueError):
        TimeOffFacts(1, 1, datetime(2030, 1, 7, 9), datetime(2030, 1, 7, 10))


def test_violation_helpers():
    v = [Violation("monitoring_capacity", (3, 4), at("10:00")), Violation("license", (3,), at("09:00"))]
    assert pairs(v) == {("monitoring_capacity", 3), ("monitoring_capacity", 4), ("license", 3)}
    assert scope_of([1, 2], MON, MON + timedelta(days=1)) == {(1, MON), (2, MON), (1, MON + timedelta(days=1)),
                                                            (2, MON + timedelta(days=1))}


# ---------------------------------------------------------------- the oracle's own reading of wall clocks


@settings(max_examples=200, deadline=None)
@given(day=st.sampled_from([SPRING, FALL, date(2027, 6, 9)]), minute=st.integers(0, 24 * 60 - 1),
       tz=st.sampled_from(["America/Los_Angeles", "America/Denver", "Europe/London", "Australia/Lord_Howe"]))
def test_the_oracle_reads_wall_times_as_localtime_does(day, minute, tz):
    """audit.py converts wall times with its own code; it must mean what localtime means:
    the first occurrence, or the end of a gap the clock jumps over."""
    zone = ZoneInfo(tz)
    wall = time(minute // 60, minute % 60)
    span = local_span(day, wall, time(0), zone)
    assert oracle._wall_instant(day, wall, zone) == (span.start if span else oracle._wall_instant(
        day + timedelta(days=1), time(0), zone))


def test_the_scope_of_a_schedule_is_every_appointments_location_day():
    c = Clinic()
    loc, other = c.location(), c.location()
    p = c.provider(["prescriber"], at=loc)
    c.book("consultation", loc, at("09:00"), p)
    c.book("consultation", other, at("09:00", MON + timedelta(days=1)), p)
    assert c.schedule().scope() == {(loc.id, MON), (other.id, MON + timedelta(days=1))}
