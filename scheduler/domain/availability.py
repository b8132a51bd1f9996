"""Facts to intervals: weekly rules and opening hours over a window (wall clock in the
location's zone, DST-safe through localtime), travel blocks, the state of a location built
from them, and the snapshot that check_start and search read.

A travel block is where a session elsewhere keeps the provider away from a location:
between two locations in one state, [start - gap, provider_end + gap); across states, every
local day (here) whose date is a date the session touches there ("not the same day across
states", each location counting days on its own calendar). Both directions give the same
pairs, so travel_time is a symmetric relation between two sessions.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time, timedelta, tzinfo
from itertools import chain
from typing import Iterable, Mapping, Sequence

from .intervals import Interval, StepFunction, intersect, merge, subtract
from .localtime import WEEKDAYS, local_date_of, local_dates, local_day_window, local_span
from .schedule import AppointmentFacts, LocationFacts, RuleFacts, Schedule, SessionTypeFacts
from .scheduling import PatientState, RoomState, SessionSpec, Site, Staff, watchers_and_slack, watching_slack

MARGIN = timedelta(days=1)
END_OF_DAY = time(23, 59, 59)
MIDNIGHT = time(0)


def wall_time(text: str) -> time:
    """'HH:MM' of the stored opening hours; '24:00' is the midnight that ends the day."""
    hh, mm = int(text[:2]), int(text[3:5])
    return MIDNIGHT if hh == 24 else time(hh, mm)


def rule_end(end: time) -> time:
    return MIDNIGHT if end >= END_OF_DAY else end


def weekly_intervals(rules: Iterable[RuleFacts], tz: tzinfo, days: Sequence[date]) -> list[Interval]:
    """Normalised UTC intervals of the rules on the given local dates."""
    out = []
    for rule in rules:
        end = rule_end(rule.end)
        for day in days:
            if day.weekday() != rule.weekday or (rule.valid_from and day < rule.valid_from) \
                    or (rule.valid_until and day > rule.valid_until):
                continue
            span = local_span(day, rule.start, end, tz)
            if span is not None:
                out.append(span)
    return merge(out)


def opening_intervals(hours: Mapping[str, Sequence[Sequence[str]]], tz: tzinfo, days: Sequence[date]) -> list[Interval]:
    out = []
    for day in days:
        for start, end in (hours or {}).get(WEEKDAYS[day.weekday()], []):
            span = local_span(day, wall_time(start), wall_time(end), tz)
            if span is not None:
                out.append(span)
    return merge(out)


def day_block(iv: Interval, there: LocationFacts, here: LocationFacts) -> list[Interval]:
    """The local days here whose dates are dates `iv` touches there."""
    return [local_day_window(d, here.tz) for d in local_dates(iv, there.tz)]


def travel_block(b: AppointmentFacts, here: LocationFacts, there: LocationFacts, minutes: int) -> list[Interval]:
    """Where session b (at `there`) keeps its provider away from `here`."""
    held = Interval(b.start, b.provider_end)
    if there.state != here.state:
        return day_block(held, there, here)
    gap = timedelta(minutes=minutes)
    return [Interval(b.start - gap, b.provider_end + gap)]


def spec_of(st: SessionTypeFacts) -> SessionSpec:
    return SessionSpec(
        code=st.code, category=st.category, administering=timedelta(minutes=st.administering_minutes),
        monitoring=timedelta(minutes=st.monitoring_minutes), room_kind=st.room_kind,
        capabilities=frozenset(st.capabilities), rems=st.rems, telehealth_allowed=st.telehealth_allowed,
        min_notice=timedelta(minutes=st.min_notice_minutes))


@dataclass
class LocationState:
    """One location over a span: its opening hours, its staff as the rules see them (active
    providers with a weekly rule here), the monitoring slack and prescriber cover."""

    schedule: Schedule
    location: LocationFacts
    span: Interval
    days: list[date]
    opening: list[Interval]
    staff: list[Staff]
    monitoring: list[Interval]
    slack: StepFunction
    prescribers: list[Interval]  # normalised: some prescriber on site and not travelling
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def by_id(self) -> dict[int, Staff]:
        return self._memo("by_id", lambda: {s.id: s for s in self.staff})

    def _memo(self, key, compute):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def rules_of(self, provider_id: int) -> list[Interval]:
        """Weekly rules here of any provider (active or not), over the span's days."""
        return self._memo(("rules", provider_id), lambda: weekly_intervals(
            self.schedule.rules_of(provider_id, self.location.id), self.location.tz, self.days))

    @property
    def watch_slack(self) -> StepFunction:
        return self._memo("watch", lambda: watching_slack(self.slack, self.monitoring, self.location.ratio))

    def short(self) -> list[Interval]:
        """Where one more watcher leaving would leave someone unwatched (slack < ratio)."""
        return self._memo("short", lambda: subtract(
            [self.span], self.slack.at_least(self.location.ratio, self.span)))

    def sole_prescriber(self) -> list[Interval]:
        """Within a REMS session's chair time, where exactly one prescriber is on site."""
        def compute():
            types = self.schedule.session_types
            chairs = merge(Interval(a.start, a.end) for a in self.schedule.appointments_at(self.location.id)
                           if a.type_code in types and types[a.type_code].rems)
            if not chairs:
                return []
            present = StepFunction.count(x for s in self.staff if "prescriber" in s.capabilities
                                         for x in subtract(s.on_site, s.travel))
            one = subtract(present.at_least(1, self.span), present.at_least(2, self.span))
            return intersect(chairs, one)
        return self._memo("sole", compute)


def location_state(schedule: Schedule, location_id: int, span: Interval) -> LocationState:
    loc = schedule.locations[location_id]
    tz = loc.tz
    days = local_dates(span, tz)
    pad = 2 * MARGIN + schedule.max_travel()  # sessions elsewhere whose travel reaches the span
    lo, hi = span.start - pad, span.end + pad
    staff, expanded = [], {}
    for pid in schedule.providers_at(location_id):
        p = schedule.providers[pid]
        rules = expanded[("rules", pid)] = weekly_intervals(schedule.rules_of(pid, location_id), tz, days)
        off = [Interval(x.start, x.end) for x in chain(schedule.time_off_of(pid), schedule.busy_of(pid))
               if x.start < hi and x.end > lo]
        mine = schedule.near(schedule.appointments_of_provider(pid), lo, hi)
        away, load = [], {}
        for b in mine:
            there = schedule.locations.get(b.location_id)
            if b.location_id != location_id and there is not None:
                away += travel_block(b, loc, there, schedule.travel_minutes(location_id, b.location_id))
            day = local_date_of(b.start, tz)
            load[day] = load.get(day, 0) + int((b.provider_end - b.start).total_seconds() // 60)
        staff.append(Staff(id=pid, capabilities=frozenset(p.capabilities),
                           licensed_states=frozenset(p.licensed_states), on_site=subtract(rules, off),
                           busy=merge(Interval(b.start, b.provider_end) for b in mine), travel=merge(away),
                           load=load))
    here = schedule.near(schedule.appointments_at(location_id), lo, hi)
    monitoring = [Interval(b.monitoring_start, b.monitoring_end) for b in here if b.monitored]
    return LocationState(
        schedule=schedule, location=loc, span=span, days=days,
        opening=opening_intervals(loc.opening_hours, tz, days), staff=staff, monitoring=monitoring,
        slack=watchers_and_slack(loc.ratio, staff, monitoring),
        prescribers=merge(x for s in staff if "prescriber" in s.capabilities for x in subtract(s.on_site, s.travel)),
        _cache=expanded)


# ---------------------------------------------------------------- the snapshot check_start reads


@dataclass
class Snapshot:
    spec: SessionSpec
    site: Site
    staff: list[Staff]
    rooms: list[RoomState]
    patient: PatientState | None


def snapshot(schedule: Schedule, location_id: int, session_type_code: str, window: Interval,
             patient_id: int | None = None, exclude_id: int | None = None,
             follows_id: int | None = None) -> Snapshot:
    """What check_start and search need to place a new session of this type here, with a
    start in window. exclude_id: the appointment being moved (left out, and its follow-up
    links kept as bounds on the new time). follows_id: the session a new one follows."""
    moved = schedule.appointments.get(exclude_id) if exclude_id is not None else None
    if moved is not None:
        schedule = schedule.without_appointment(exclude_id)
    st = schedule.session_types[session_type_code]
    spec = spec_of(st)
    loc = schedule.locations[location_id]
    reach = spec.administering + spec.monitoring + loc.turnover
    span = Interval(window.start - MARGIN, window.end + reach + MARGIN)
    state = location_state(schedule, location_id, span)
    _add_needs(schedule, state)
    site = Site(location_id=loc.id, tz=loc.tz, state=loc.state, ratio=loc.ratio, turnover=loc.turnover,
                grid_minutes=loc.slot_minutes, opening=state.opening, slack=state.slack,
                prescribers_on_site=state.prescribers, watch_slack=state.watch_slack)
    patient = None
    if patient_id is not None:
        if moved is not None and follows_id is None:
            follows_id = moved.follows_id
        patient = _patient_state(schedule, patient_id, moved, follows_id)
    return Snapshot(spec=spec, site=site, staff=state.staff, rooms=_rooms(schedule, state, st), patient=patient)


def _rooms(schedule: Schedule, state: LocationState, st: SessionTypeFacts) -> list[RoomState]:
    loc, tz, out = state.location, state.location.tz, []
    for room in sorted(schedule.rooms.values(), key=lambda r: r.id):
        if room.location_id != loc.id or room.kind != st.room_kind or not room.active:
            continue
        used = schedule.near(schedule.appointments_in_room(room.id), state.span.start, state.span.end)
        load = {}
        for b in used:
            day = local_date_of(b.start, tz)
            load[day] = load.get(day, 0) + int((b.end - b.start).total_seconds() // 60)
        out.append(RoomState(id=room.id, busy=merge(Interval(b.start, b.end + loc.turnover) for b in used), load=load))
    return out


def _add_needs(schedule: Schedule, state: LocationState) -> None:
    """Tell each clinician here where they are needed at their other locations (the only
    watcher to spare, the only prescriber of a REMS session), as the provider times here
    whose travel block there would take them away."""
    here = state.location
    pad = MARGIN + schedule.max_travel()
    wider = Interval(state.span.start - pad, state.span.end + pad)
    others: dict[int, LocationState] = {}
    types = schedule.session_types
    watched = {mid for mid in schedule.locations if any(  # only patients there can need anyone
        a.monitored or (a.type_code in types and types[a.type_code].rems)
        for a in schedule.near(schedule.appointments_at(mid), wider.start, wider.end))}
    for s in state.staff:
        if not s.is_clinician:
            continue
        needs: dict[str, list[Interval]] = {}
        for mid in sorted(schedule.locations_of(s.id) - {here.id}):
            if mid not in watched:
                continue
            if mid not in others:
                others[mid] = location_state(schedule, mid, wider)
            there_state = others[mid]
            me = there_state.by_id.get(s.id)
            if me is None:
                continue
            there = there_state.location
            gap = timedelta(minutes=schedule.travel_minutes(here.id, mid))
            found = {"monitoring_capacity": intersect(me.free, there_state.short())}
            if "prescriber" in s.capabilities:
                found["rems_prescriber"] = intersect(subtract(me.on_site, me.travel), there_state.sole_prescriber())
            for code, ivs in found.items():
                for iv in ivs:
                    needs.setdefault(code, []).extend(
                        [Interval(iv.start - gap, iv.end + gap)] if there.state == here.state
                        else day_block(iv, there, here))
        s.needed_elsewhere = {code: merge(ivs) for code, ivs in needs.items() if ivs}


def _patient_state(schedule: Schedule, patient_id: int, moved: AppointmentFacts | None,
                   follows_id: int | None) -> PatientState:
    facts = schedule.patients.get(patient_id)
    mine = schedule.appointments_of_patient(patient_id)
    types = schedule.session_types
    first = schedule.appointments.get(follows_id) if follows_id is not None else None
    followers = schedule.followers(moved.id) if moved is not None else ()
    return PatientState(
        id=patient_id, state=facts.state if facts else "",
        cleared_for_dosing=bool(facts and facts.cleared_for_dosing),
        busy=merge(Interval(b.start, b.end) for b in mine),
        dosing_dates=frozenset(b.local_date for b in mine if b.type_code in types and types[b.type_code].is_dosing),
        not_before=first.end if first is not None else None,
        end_by=min((f.start for f in followers), default=None))

