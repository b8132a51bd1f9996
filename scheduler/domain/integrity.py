"""Every rule, for every appointment in scope: the fast whole-schedule check.

``violations(schedule, scope)`` checks each occupying appointment whose (location, local
date) is in scope against every rule of PRODUCT.md (the codes in schedule.RULES), with the
interval algebra of availability.py: one LocationState per location (O(n log n)), then a
bisect or two per rule and appointment. A rule between two appointments (overlaps, travel,
one dosing a day, follow order) is broken by both: each is named when it is in scope.
Monitoring is checked per deficit: one violation per stretch where slack < 0, naming the
in-scope appointments monitored then.

domain/audit.py computes the same answer independently; the property tests hold them equal.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Iterable

from .availability import MARGIN, LocationState, location_state, travel_block
from .intervals import Interval, covers, merge, overlaps_any
from .schedule import AppointmentFacts, Schedule, Violation

TICK = timedelta(microseconds=1)


def violations(schedule: Schedule, scope: Iterable[tuple[int, date]]) -> list[Violation]:
    wanted: dict[int, set[date]] = {}
    for location_id, day in scope:
        wanted.setdefault(location_id, set()).add(day)
    out: list[Violation] = []
    for location_id in sorted(wanted):
        if location_id not in schedule.locations:
            continue
        todo = [a for a in schedule.appointments_at(location_id) if a.local_date in wanted[location_id]]
        if not todo:
            continue
        span = Interval(min(a.start for a in todo) - MARGIN, max(a.end for a in todo) + MARGIN)
        checker = _Checker(schedule, location_state(schedule, location_id, span))
        for a in todo:
            out.extend(checker.check(a))
        out.extend(_deficits(checker.state, todo))
    return out


def _deficits(state: LocationState, todo: list[AppointmentFacts]) -> list[Violation]:
    watched = [(Interval(a.monitoring_start, a.monitoring_end), a.id) for a in todo if a.monitored]
    short = [piece for window in merge(m for m, _ in watched) if state.slack.min_over(window) < 0
             for piece, value in state.slack.segments(window) if value < 0]
    out = []
    for deficit in merge(short):
        ids = tuple(sorted(i for m, i in watched if m.overlaps(deficit)))
        out.append(Violation("monitoring_capacity", ids, deficit.start,
                             f"{len(ids)} patient(s) in monitoring with too few clinicians free to watch them."))
    return out


class _Checker:
    def __init__(self, schedule: Schedule, state: LocationState):
        self.schedule = schedule
        self.state = state
        self.loc = state.location
        self.pad = 2 * MARGIN + schedule.max_travel()
        self._blocks: dict[tuple[str, int], list[Interval]] = {}

    def _provider_blocks(self, kind: str, provider_id: int) -> list[Interval]:
        key = (kind, provider_id)
        if key not in self._blocks:
            facts = self.schedule.time_off_of(provider_id) if kind == "time_off" else self.schedule.busy_of(provider_id)
            self._blocks[key] = merge(Interval(x.start, x.end) for x in facts)
        return self._blocks[key]

    def check(self, a: AppointmentFacts) -> list[Violation]:
        s, loc = self.schedule, self.loc
        found: list[Violation] = []

        def broken(rule: str, message: str, at=a.start) -> None:
            found.append(Violation(rule, (a.id,), at, message))

        provider, st, patient = s.providers.get(a.provider_id), s.session_types.get(a.type_code), s.patients.get(a.patient_id)
        held, chair = Interval(a.start, a.provider_end), Interval(a.start, a.end)
        if provider is None or not provider.active:
            broken("provider_inactive", "The provider is not active.")
        if st is not None:
            if provider is not None and not provider.capabilities & st.capabilities:
                broken("provider_not_qualified", f"{st.code} needs one of: {', '.join(sorted(st.capabilities))}.")
            if a.telehealth and not st.telehealth_allowed:
                broken("telehealth_not_allowed", f"{st.code} cannot be held by telehealth.")
            if st.is_dosing and not (patient is not None and patient.cleared_for_dosing):
                broken("consultation_required", "The patient has no fulfilled consultation or dosing clearance.")
            if st.rems and not covers(self.state.prescribers, chair):
                broken("rems_prescriber", "No prescriber on site for the whole chair time (REMS).")
        state = (patient.state if patient else "") if a.telehealth else loc.state
        if provider is not None and state not in provider.licensed_states:
            broken("license", f"The provider holds no {state or 'patient-state'} licence.")
        if not covers(self.state.rules_of(a.provider_id), held):
            broken("provider_unavailable", "The provider does not work here then.")
        if overlaps_any(self._provider_blocks("time_off", a.provider_id), held):
            broken("provider_time_off", "The provider has time off then.")
        if overlaps_any(self._provider_blocks("busy", a.provider_id), held):
            broken("external_busy", "The provider's own calendar is busy then.")
        self._provider_pairs(a, held, broken)
        if not a.telehealth:
            self._room(a, st, broken)
            if not covers(self.state.opening, Interval(a.start, a.start + TICK)):
                broken("clinic_closed", "The location is closed at the start.")
            elif not covers(self.state.opening, chair):
                broken("after_closing", "The session runs past closing time.")
        self._patient(a, st, broken)
        self._follow(a, broken)
        return found

    def _provider_pairs(self, a: AppointmentFacts, held: Interval, broken) -> None:
        s, loc = self.schedule, self.loc
        overlap = travel = None
        for b in s.near(s.appointments_of_provider(a.provider_id), held.start - self.pad, held.end + self.pad):
            if b.id == a.id:
                continue
            if overlap is None and b.start < a.provider_end and a.start < b.provider_end:
                overlap = b
            there = s.locations.get(b.location_id)
            if travel is None and b.location_id != loc.id and there is not None and any(
                    iv.overlaps(held) for iv in travel_block(b, loc, there, s.travel_minutes(loc.id, b.location_id))):
                travel = b
        if overlap is not None:
            broken("provider_overlap", f"The provider has appointment {overlap.id} at the same time.")
        if travel is not None:
            broken("travel_time", f"Appointment {travel.id} at another location is within the travel time.")

    def _room(self, a: AppointmentFacts, st, broken) -> None:
        s, loc = self.schedule, self.loc
        room = s.rooms.get(a.room_id) if a.room_id is not None else None
        if room is None or not room.active or room.location_id != loc.id or (st is not None and room.kind != st.room_kind):
            broken("room_unavailable", "The session has no active room of the right kind here.")
            return
        turnover = loc.turnover
        for b in s.near(s.appointments_in_room(room.id), a.start - turnover, a.end + turnover):
            if b.id != a.id and b.start < a.end + turnover and a.start < b.end + turnover:
                broken("room_unavailable", f"Appointment {b.id} uses the room (with turnover) at the same time.")
                return

    def _patient(self, a: AppointmentFacts, st, broken) -> None:
        s = self.schedule
        types = s.session_types
        mine = s.near(s.appointments_of_patient(a.patient_id), a.start - 2 * MARGIN, a.end + 2 * MARGIN)
        if any(b.id != a.id and b.start < a.end and a.start < b.end for b in mine):
            broken("patient_overlap", "The patient has another session at the same time.")
        if st is not None and st.is_dosing and any(
                b.id != a.id and b.local_date == a.local_date and b.type_code in types and types[b.type_code].is_dosing
                for b in mine):
            broken("one_dosing_per_day", "The patient has another dosing session that day.")

    def _follow(self, a: AppointmentFacts, broken) -> None:
        s = self.schedule
        first = s.appointments.get(a.follows_id) if a.follows_id is not None else None
        if first is not None and a.start < first.end:
            broken("follow_order", f"It starts before appointment {first.id}, which it follows, has ended.")
        early = [b for b in s.followers(a.id) if b.start < a.end]
        if early:
            broken("follow_order", f"Appointment {early[0].id}, which follows it, starts before it ends.",
                   early[0].start)
