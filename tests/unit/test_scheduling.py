"""The pure scheduling rules (check_start, search, watchers_and_slack) on hand-built values.

No database: Site, Staff, RoomState and PatientState are built here the way
services/availability.py would build them, from wall-clock rules in Los Angeles.
"""
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from scheduler.domain.intervals import Interval, merge
from scheduler.domain.localtime import local_dates, local_span, local_to_utc
from scheduler.domain.scheduling import (
    PatientState,
    RoomState,
    SessionSpec,
    Site,
    Staff,
    check_start,
    checkpoints,
    phases,
    search,
    watchers_and_slack,
)

UTC = timezone.utc
LA = ZoneInfo("America/Los_Angeles")
MON = date(2030, 1, 7)
TUE = date(2030, 1, 8)
NOW = datetime(2030, 1, 1, 16, 0, tzinfo=UTC)
M = timedelta(minutes=1)

IV = SessionSpec("ketamine_iv", "dosing", 40 * M, 60 * M, "treatment", frozenset({"nurse", "prescriber"}))
IM = SessionSpec("ketamine_im", "dosing", 15 * M, 60 * M, "treatment", frozenset({"nurse", "prescriber"}))
SUBLINGUAL = SessionSpec("ketamine_sublingual", "dosing", 30 * M, 120 * M, "treatment", frozenset({"prescriber"}))
SPRAVATO = SessionSpec("esketamine_nasal", "dosing", 15 * M, 120 * M, "treatment",
                       frozenset({"prescriber", "nurse"}), rems=True)
INTEGRATION = SessionSpec("integration", "integration", 50 * M, 0 * M, "therapy", frozenset({"therapist"}),
                          telehealth_allowed=True)
CONSULTATION = SessionSpec("consultation", "consultation", 60 * M, 0 * M, "therapy", frozenset({"prescriber"}),
                           telehealth_allowed=True)


# ---------------------------------------------------------------- builders


def t(hm: str, day: date = MON) -> datetime:
    """The UTC instant of a wall-clock time in Los Angeles (first occurrence)."""
    return local_to_utc(day, time.fromisoformat(hm), LA)


def span(a: str, b: str, day: date = MON) -> Interval:
    return Interval(t(a, day), t(b, day))


def hours(days, a="08:00", b="17:00") -> list[Interval]:
    return merge(x for d in days if (x := local_span(d, time.fromisoformat(a), time.fromisoformat(b), LA)))


def person(pid, caps, days=(MON,), a="08:00", b="17:00", states=("CA",), busy=(), travel=(), load=None):
    return Staff(id=pid, capabilities=frozenset(caps), licensed_states=frozenset(states),
                 on_site=hours(days, a, b), busy=merge(busy), travel=merge(travel), load=load or {})


def site(staff, days=(MON,), monitoring=(), opening=("07:00", "19:00"), ratio=3, grid=15, state="CA"):
    return Site(location_id=1, tz=LA, state=state, ratio=ratio, turnover=15 * M, grid_minutes=grid,
                opening=hours(days, *opening), slack=watchers_and_slack(ratio, staff, list(monitoring)),
                prescribers_on_site=merge(x for s in staff if "prescriber" in s.capabilities for x in s.on_site))


def rooms(n, busy=None, first_id=1):
    busy = busy or {}
    return [RoomState(id=i, busy=merge(busy.get(i, ()))) for i in range(first_id, first_id + n)]


def patient(cleared=True, busy=(), dosing_dates=(), state="CA"):
    return PatientState(id=1, state=state, cleared_for_dosing=cleared, busy=merge(busy),
                        dosing_dates=frozenset(dosing_dates))


def day_window(day=MON):
    return Interval(t("00:00", day), t("00:00", day + timedelta(days=1)))


def local_hm(instants):
    return [x.astimezone(LA).strftime("%H:%M") for x in instants]


def grid(first, last, step=15):
    a = datetime.combine(MON, time.fromisoformat(first))
    b = datetime.combine(MON, time.fromisoformat(last))
    out = []
    while a <= b:
        out.append(a.strftime("%H:%M"))
        a += timedelta(minutes=step)
    return out


# ---------------------------------------------------------------- watchers and slack


def test_slack_counts_free_clinicians_times_ratio_minus_monitored_patients():
    presc = person(1, ["prescriber"], busy=[span("09:00", "09:40")])
    nurse = person(2, ["nurse"])
    therapist = person(3, ["therapist"])  # never a watcher
    slack = watchers_and_slack(3, [presc, nurse, therapist], [span("09:40", "10:40")])
    assert slack.value_at(t("07:59")) == 0
    assert slack.value_at(t("08:00")) == 6
    assert slack.value_at(t("09:00")) == 3  # the prescriber administers
    assert slack.value_at(t("09:40")) == 5  # both watch, one patient monitored
    assert slack.value_at(t("10:40")) == 6
    assert slack.value_at(t("17:00")) == 0


def test_slack_can_go_negative_and_counts_overlapping_windows():
    nurse = person(2, ["nurse"])
    slack = watchers_and_slack(1, [nurse], [span("09:00", "10:00"), span("09:30", "10:30")])
    assert [slack.value_at(t(x)) for x in ("08:00", "09:00", "09:30", "10:00", "10:30")] == [1, 0, -1, 0, 1]


def test_a_clinician_travelling_from_another_location_does_not_watch_here():
    """Regression: the travel block around a session elsewhere was not taken off the
    watchers, so a nurse busy in Santa Barbara counted as watching in Pasadena."""
    away = Interval(t("06:30"), t("10:10"))  # 90 min either side of 08:00-08:40 elsewhere
    nurse = person(2, ["nurse"], busy=[span("08:00", "08:40")], travel=[away])
    presc = person(1, ["prescriber"], busy=[span("08:00", "08:40")])
    slack = watchers_and_slack(1, [presc, nurse], [span("08:40", "09:40")])
    assert [slack.value_at(t(x)) for x in ("08:00", "08:45", "09:45", "10:10")] == [0, 0, 1, 2]
    s = site([presc, nurse], monitoring=[span("08:40", "09:40")], ratio=1)
    assert check_start(s, IV, t("08:45"), [presc, nurse], rooms(3), NOW).code == "monitoring_capacity"
    assert check_start(s, IV, t("09:45"), [presc, nurse], rooms(3), NOW).providers == (1,)


def test_phases():
    ph = phases(IV, t("09:00"), 15 * M)
    assert (ph.provider_end, ph.end, ph.room_end) == (t("09:40"), t("10:40"), t("10:55"))
    assert ph.monitoring == span("09:40", "10:40") and ph.chair == span("09:00", "10:40")
    tele = phases(INTEGRATION, t("09:00"), 15 * M, telehealth=True)
    assert (tele.provider_end, tele.end, tele.monitoring, tele.room_end) == (t("09:50"), t("09:50"), None, None)


# ---------------------------------------------------------------- the worked examples, pure


def test_example_1_staff_hours_bound_the_monitoring_window():
    staff = [person(1, ["prescriber"]), person(2, ["nurse"])]
    s = site(staff)
    found = search(s, IV, day_window(), staff, rooms(2), NOW)
    assert local_hm(x.start for x in found) == grid("08:00", "15:15")
    assert found[-1].end == t("16:55")
    late = check_start(s, IV, t("15:30"), staff, rooms(2), NOW)
    assert late.code == "monitoring_capacity" and not late.ok


def test_example_2_an_administering_clinician_does_not_watch():
    a_admin, a_watch = span("09:00", "09:40"), span("09:40", "10:40")
    presc = person(1, ["prescriber"], busy=[a_admin])
    room_busy = {1: [span("09:00", "10:55")]}
    s = site([presc], monitoring=[a_watch], ratio=1)
    assert check_start(s, IV, t("09:45"), [presc], rooms(3, room_busy), NOW).code == "monitoring_capacity"
    found = search(s, IV, span("09:00", "12:00"), [presc], rooms(3, room_busy), NOW)
    assert local_hm(x.start for x in found) == grid("10:45", "11:45")

    nurse = person(2, ["nurse"])
    s2 = site([presc, nurse], monitoring=[a_watch], ratio=1)
    ok = check_start(s2, IV, t("09:45"), [presc, nurse], rooms(3, room_busy), NOW)
    assert ok.ok and set(ok.providers) == {1, 2} and ok.rooms == (2, 3)


def test_example_3_capacity_is_a_count():
    """The prescriber (08:00-09:00) administered IM at 08:00, 08:15 and 08:30; from 09:00 the
    nurse is the only watcher of three monitored patients (ratio 3): a fourth is refused."""
    presc = person(1, ["prescriber"], a="08:00", b="09:00",
                   busy=[span("08:00", "08:15"), span("08:15", "08:30"), span("08:30", "08:45")])
    nurse = person(2, ["nurse"])
    watched = [span("08:15", "09:15"), span("08:30", "09:30"), span("08:45", "09:45")]
    staff = [presc, nurse]
    s = site(staff, monitoring=watched, ratio=3)
    assert s.slack.min_over(span("08:45", "09:15")) == 0  # three monitored at once, within capacity
    assert check_start(s, IM, t("08:45"), staff, rooms(5), NOW).code == "monitoring_capacity"
    found = search(s, IM, span("08:45", "10:00"), staff, rooms(5), NOW)
    assert local_hm(x.start for x in found) == ["09:45"] and found[0].providers == (2,)
    # With ratio 4 the same nurse may watch a fourth.
    s4 = site(staff, monitoring=watched, ratio=4)
    assert check_start(s4, IM, t("08:45"), staff, rooms(5), NOW).ok


def test_example_4_rems_needs_a_prescriber_for_the_whole_chair_time():
    staff = [person(1, ["prescriber"]), person(2, ["nurse"], b="19:00")]
    s = site(staff)
    found = search(s, SPRAVATO, span("13:00", "19:00"), staff, rooms(1), NOW)
    assert local_hm(x.start for x in found) == grid("13:00", "14:45")
    assert check_start(s, SPRAVATO, t("15:00"), staff, rooms(1), NOW).code == "rems_prescriber"
    # The same chair time without the REMS flag is fine with the nurse alone.
    plain = SessionSpec("plain", "dosing", 15 * M, 120 * M, "treatment", frozenset({"prescriber", "nurse"}))
    assert check_start(s, plain, t("15:00"), staff, rooms(1), NOW).ok


def test_example_5_rooms_and_turnover():
    staff = [person(1, ["prescriber"]), person(2, ["nurse"])]
    s = site(staff, grid=5)
    busy = {1: [span("09:00", "10:55")], 2: [span("09:00", "10:55")]}
    assert check_start(s, IV, t("09:00"), staff, rooms(2, busy), NOW).code == "room_unavailable"
    assert check_start(s, IV, t("10:50"), staff, rooms(2, busy), NOW).code == "room_unavailable"
    ok = check_start(s, IV, t("10:55"), staff, rooms(2, busy), NOW)
    assert ok.ok and ok.rooms == (1, 2)
    # The room asked for, and only it.
    busy1 = {1: [span("09:00", "10:55")]}
    assert check_start(s, IV, t("09:00"), staff, rooms(2, busy1), NOW, room_id=1).code == "room_unavailable"
    assert check_start(s, IV, t("09:00"), staff, rooms(2, busy1), NOW, room_id=9).code == "room_unavailable"
    assert check_start(s, IV, t("09:00"), staff, rooms(2, busy1), NOW, room_id=2).rooms == (2,)


def test_rooms_and_providers_least_loaded_first():
    staff = [person(1, ["nurse"], load={MON: 200}), person(2, ["nurse"], load={MON: 40}),
             person(3, ["nurse"], load={TUE: 500})]
    room_list = [RoomState(id=1, busy=[], load={MON: 300}), RoomState(id=2, busy=[], load={MON: 100}), RoomState(id=3, busy=[])]
    out = check_start(site(staff), IV, t("09:00"), staff, room_list, NOW)
    assert out.providers == (3, 2, 1) and out.rooms == (3, 2, 1)


def test_example_6_licensure():
    oregon = person(1, ["therapist"], states=("OR",))
    cal = person(2, ["therapist"], states=("CA",))
    both = person(3, ["therapist"], states=("CA", "OR"))
    s = site([oregon, cal])
    assert check_start(s, INTEGRATION, t("09:00"), [oregon], rooms(1), NOW).code == "license"
    assert check_start(s, INTEGRATION, t("09:00"), [oregon, cal], rooms(1), NOW).providers == (2,)
    assert check_start(s, INTEGRATION, t("09:00"), [oregon, cal], rooms(1), NOW, provider_id=1).code == "license"
    assert search(s, INTEGRATION, day_window(), [oregon, cal], rooms(1), NOW, provider_id=1) == []
    # Telehealth: the patient's state decides, not the location's.
    portlander = patient(state="OR")
    tele = check_start(s, INTEGRATION, t("09:00"), [oregon, cal, both], rooms(1), NOW, portlander, telehealth=True)
    assert tele.ok and tele.providers == (1, 3) and tele.rooms == ()
    assert check_start(s, INTEGRATION, t("09:00"), [cal], rooms(1), NOW, portlander, telehealth=True).code == "license"


def test_example_7_travel():
    session_elsewhere = span("09:00", "10:00")
    block = Interval(session_elsewhere.start - 90 * M, session_elsewhere.end + 90 * M)
    presc = person(1, ["prescriber"], travel=[block])
    s = site([presc])
    assert check_start(s, CONSULTATION, t("11:15"), [presc], rooms(1), NOW).code == "travel_time"
    assert check_start(s, CONSULTATION, t("08:00"), [presc], rooms(1), NOW).code == "travel_time"
    assert check_start(s, CONSULTATION, t("11:30"), [presc], rooms(1), NOW).ok
    found = search(s, CONSULTATION, span("08:00", "12:00"), [presc], rooms(1), NOW)
    assert local_hm(x.start for x in found) == ["11:30", "11:45"]
    # Across states, the whole day is blocked.
    whole_day = person(1, ["prescriber"], travel=[day_window()])
    assert search(site([whole_day]), CONSULTATION, day_window(), [whole_day], rooms(1), NOW) == []
    # Travel is named only when it is the one reason; someone else free means it is fine.
    other = person(2, ["prescriber"])
    assert check_start(s, CONSULTATION, t("11:15"), [presc, other], rooms(1), NOW).providers == (2,)
    busy_other = person(2, ["prescriber"], busy=[span("11:00", "12:30")])
    mixed = check_start(s, CONSULTATION, t("11:15"), [presc, busy_other], rooms(1), NOW)
    assert mixed.code == "provider_unavailable"


def test_example_8_patient_rules():
    days = (MON, TUE)
    staff = [person(1, ["prescriber"], days), person(2, ["nurse"], days), person(3, ["therapist"], days)]
    s = site(staff, days=days)
    chair = patient(busy=[span("09:00", "10:40")], dosing_dates=[MON])
    assert check_start(s, INTEGRATION, t("10:00"), staff, rooms(1), NOW, chair).code == "patient_overlap"
    assert check_start(s, INTEGRATION, t("10:40"), staff, rooms(1), NOW, chair).ok
    assert check_start(s, INTEGRATION, t("11:00"), staff, rooms(1), NOW, chair).ok
    assert check_start(s, IM, t("14:00"), staff, rooms(1), NOW, chair).code == "one_dosing_per_day"
    assert check_start(s, IM, t("14:00", TUE), staff, rooms(1), NOW, chair).ok
    uncleared = patient(cleared=False)
    for spec in (IV, IM, SUBLINGUAL, SPRAVATO):
        assert check_start(s, spec, t("09:00"), staff, rooms(1), NOW, uncleared).code == "consultation_required"
    assert check_start(s, CONSULTATION, t("09:00"), staff, rooms(1), NOW, uncleared).ok


# ---------------------------------------------------------------- every code, and which comes first


def test_every_refusal_code():
    staff = [person(1, ["prescriber"]), person(2, ["nurse"]), person(3, ["therapist"])]
    s = site(staff)
    cases = [
        (dict(spec=IV, start=t("09:00"), telehealth=True), "telehealth_not_allowed"),
        (dict(spec=IV, start=t("09:00", date(2030, 1, 1))), "too_soon"),
        (dict(spec=CONSULTATION, start=t("06:45")), "clinic_closed"),
        (dict(spec=CONSULTATION, start=t("19:00")), "clinic_closed"),
        (dict(spec=IV, start=t("17:30")), "after_closing"),
        (dict(spec=IV, start=t("16:00")), "monitoring_capacity"),
        (dict(spec=INTEGRATION, start=t("09:00"), provider_id=2), "provider_not_qualified"),
        (dict(spec=SUBLINGUAL, start=t("09:00"), provider_id=2), "provider_not_qualified"),
        (dict(spec=INTEGRATION, start=t("09:00"), provider_id=42), "provider_unavailable"),
        (dict(spec=CONSULTATION, start=t("16:30")), "provider_unavailable"),
        (dict(spec=IV, start=t("09:00"), room_id=42), "room_unavailable"),
    ]
    for kw, code in cases:
        spec, start = kw.pop("spec"), kw.pop("start")
        out = check_start(s, spec, start, staff, rooms(1), NOW, **kw)
        assert out.code == code, (spec.code, start, out)
        assert not out.ok and out.providers == () and out.rooms == () and out.message


def test_a_provider_refusal_is_never_an_offer():
    """Regression: a (code, message) refusal from the provider step was taken for a tuple of
    provider ids, so license, travel and busy providers came back as bookable."""
    oregon = person(1, ["therapist"], states=("OR",))
    out = check_start(site([oregon]), INTEGRATION, t("09:00"), [oregon], rooms(1), NOW)
    assert out.code == "license" and not out.ok and out.providers == ()
    busy = person(1, ["therapist"], busy=[span("09:00", "10:00")])
    assert not check_start(site([busy]), INTEGRATION, t("09:00"), [busy], rooms(1), NOW).ok
    assert search(site([busy]), INTEGRATION, span("09:00", "10:00"), [busy], rooms(1), NOW) == []


def test_the_first_broken_rule_is_the_answer():
    staff = [person(1, ["prescriber"])]
    s = site(staff)
    # Telehealth for a dosing type, too soon, closed and unqualified all at once.
    out = check_start(s, IV, t("03:00", date(2030, 1, 1)), staff, [], NOW, telehealth=True, provider_id=9)
    assert out.code == "telehealth_not_allowed"
    assert check_start(s, IV, t("03:00", date(2030, 1, 1)), staff, [], NOW).code == "too_soon"
    assert check_start(s, IV, t("03:00"), staff, [], NOW, patient(cleared=False)).code == "clinic_closed"
    assert check_start(s, IV, t("09:00"), staff, [], NOW, patient(cleared=False)).code == "consultation_required"
    assert check_start(s, IV, t("09:00"), staff, [], NOW, patient()).code == "room_unavailable"


def test_telehealth_ignores_opening_hours_and_rooms():
    staff = [person(1, ["prescriber"], a="06:00", b="22:00")]
    s = site(staff)
    out = check_start(s, CONSULTATION, t("20:00"), staff, [], NOW, telehealth=True)
    assert out.ok and out.rooms == () and out.phases.room_end is None
    assert check_start(s, CONSULTATION, t("20:00"), staff, rooms(1), NOW).code == "clinic_closed"


def test_minimum_notice():
    staff = [person(1, ["prescriber"], days=[date(2030, 1, 1)])]
    s = site(staff, days=[date(2030, 1, 1)])
    found = search(s, CONSULTATION, day_window(date(2030, 1, 1)), staff, rooms(1), NOW)
    assert local_hm(x.start for x in found)[0] == "10:00"  # now 08:00 + 2 h
    assert check_start(s, CONSULTATION, t("09:45", date(2030, 1, 1)), staff, rooms(1), NOW).code == "too_soon"
    no_notice = SessionSpec("walk_in", "consultation", 60 * M, 0 * M, "therapy", frozenset({"prescriber"}),
                            min_notice=timedelta(0))
    assert local_hm(x.start for x in search(s, no_notice, day_window(date(2030, 1, 1)), staff, rooms(1), NOW))[0] \
        == "08:00"


def test_search_offers_exactly_the_starts_check_start_accepts():
    presc = person(1, ["prescriber"], busy=[span("10:00", "10:40")])
    nurse = person(2, ["nurse"], a="09:00", b="15:00")
    staff = [presc, nurse]
    s = site(staff, monitoring=[span("10:40", "11:40")], ratio=1)
    room_list = rooms(2, {1: [span("10:00", "11:55")]})
    window = day_window()
    found = {x.start: x for x in search(s, IV, window, staff, room_list, NOW)}
    assert found
    start = window.start
    while start < window.end:
        out = check_start(s, IV, start, staff, room_list, NOW)
        assert out.ok == (start in found), start
        if out.ok:
            assert (found[start].providers, found[start].rooms, found[start].end) == \
                (out.providers, out.rooms, out.phases.end)
        start += 15 * M


def test_checkpoints_in_time_order():
    defs = [{"label": "discharge", "anchor": "end", "offset_minutes": -10},
            {"label": "before", "anchor": "start", "offset_minutes": 0},
            {"label": "mid", "anchor": "monitoring_start", "offset_minutes": 20},
            {"label": "ignored", "anchor": "nowhere", "offset_minutes": 0}]
    assert checkpoints(defs, t("09:00"), t("09:40"), t("10:40")) == [
        ("before", t("09:00")), ("mid", t("10:00")), ("discharge", t("10:30"))]


# ---------------------------------------------------------------- DST


DST_NOW = datetime(2027, 3, 1, tzinfo=UTC)
DST_DAYS = [date(2027, 3, 13), date(2027, 3, 14), date(2027, 11, 6), date(2027, 11, 7)]


def _daily(a="08:00", b="17:00", days=DST_DAYS):
    all_days = local_dates(Interval(t("00:00", min(days)), t("00:00", max(days) + timedelta(days=1))), LA)
    staff = [person(1, ["prescriber"], days=all_days, a=a, b=b)]
    return site(staff, days=all_days, opening=("00:00", "00:00")), staff


@pytest.mark.parametrize("day, first_utc, offset", [
    (date(2027, 3, 13), datetime(2027, 3, 13, 16, 0, tzinfo=UTC), -8),
    (date(2027, 3, 14), datetime(2027, 3, 14, 15, 0, tzinfo=UTC), -7),
    (date(2027, 11, 6), datetime(2027, 11, 6, 15, 0, tzinfo=UTC), -7),
    (date(2027, 11, 7), datetime(2027, 11, 7, 16, 0, tzinfo=UTC), -8),
])
def test_dst_a_wall_clock_rule_starts_at_0800_local_on_both_sides(day, first_utc, offset):
    s, staff = _daily(days=[day])
    found = search(s, CONSULTATION, day_window(day), staff, rooms(1), DST_NOW)
    assert found[0].start == first_utc
    local = found[0].start.astimezone(LA)
    assert local.strftime("%H:%M") == "08:00" and local.utcoffset() == timedelta(hours=offset)
    assert local_hm(x.start for x in found) == grid("08:00", "16:00")
    assert found[-1].end.astimezone(LA).strftime("%H:%M") == "17:00"


def test_dst_four_days_in_one_search():
    s, staff = _daily(days=[date(2027, 3, 13), date(2027, 3, 14)])
    window = Interval(t("00:00", date(2027, 3, 13)), t("00:00", date(2027, 3, 15)))
    firsts = {}
    for x in search(s, CONSULTATION, window, staff, rooms(1), DST_NOW):
        firsts.setdefault(x.start.astimezone(LA).date(), x.start)
    assert firsts == {date(2027, 3, 13): datetime(2027, 3, 13, 16, 0, tzinfo=UTC),
                      date(2027, 3, 14): datetime(2027, 3, 14, 15, 0, tzinfo=UTC)}


def test_dst_no_slot_in_the_spring_forward_gap():
    day = date(2027, 3, 14)
    s, staff = _daily("01:00", "04:00", days=[day])
    found = search(s, CONSULTATION, day_window(day), staff, rooms(1), DST_NOW)
    assert local_hm(x.start for x in found) == ["01:00", "01:15", "01:30", "01:45", "03:00"]
    assert not any(x.start.astimezone(LA).hour == 2 for x in found)
    # 01:45 PST + 60 min is 03:45 PDT: the real hour, not the wall-clock difference.
    assert found[3].end.astimezone(LA).strftime("%H:%M") == "03:45"
    # A rule lying wholly inside the gap gives no time at all.
    s2, staff2 = _daily("02:00", "03:00", days=[day])
    assert staff2[0].on_site == []
    short = SessionSpec("short", "consultation", 15 * M, 0 * M, "therapy", frozenset({"prescriber"}))
    assert search(s2, short, day_window(day), staff2, rooms(1), DST_NOW) == []


def test_dst_fall_back_hour_is_not_offered_twice():
    day = date(2027, 11, 7)
    s, staff = _daily("00:00", "04:00", days=[day])
    short = SessionSpec("short", "consultation", 15 * M, 0 * M, "therapy", frozenset({"prescriber"}))
    found = search(s, short, day_window(day), staff, rooms(1), DST_NOW)
    walls = local_hm(x.start for x in found)
    assert len(walls) == len(set(walls))
    assert walls == [f"{h:02d}:{m:02d}" for h in range(4) for m in (0, 15, 30, 45)]
    ones = [x.start for x in found if x.start.astimezone(LA).hour == 1]
    assert all(x.astimezone(LA).utcoffset() == timedelta(hours=-7) for x in ones)  # the first 01:xx
    assert all(b > a for a, b in zip([x.start for x in found], [x.start for x in found][1:]))


def test_dst_monitoring_window_spans_the_change_in_real_minutes():
    """A dosing session across the spring-forward change lasts its real 100 minutes."""
    day = date(2027, 3, 14)
    all_days = [day]
    staff = [person(1, ["prescriber"], days=all_days, a="00:00", b="06:00"),
             person(2, ["nurse"], days=all_days, a="00:00", b="06:00")]
    s = site(staff, days=all_days, opening=("00:00", "06:00"))
    out = check_start(s, IV, t("01:30", day), staff, rooms(1), DST_NOW)
    assert out.ok
    assert out.phases.end - out.phases.start == 100 * M
    assert out.phases.end.astimezone(LA).strftime("%H:%M") == "04:10"
