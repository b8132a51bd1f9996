"""The oracle: every rule recomputed from the facts in the plainest way there is.

Deliberately independent of integrity.py and of what it builds on (intervals.py,
StepFunction, localtime.py, availability.py, check_start): it reads only the facts, and
zoneinfo. Each appointment is checked rule by rule on its own. A rule about a stretch of
time ("on duty for the whole session", "open until the end", "someone watching") is
evaluated at single instants: the start of the stretch and every instant inside it where
any fact changes (a rule or opening boundary, a session's phase, a time off, a travel gap,
a local midnight). Between two such instants nothing changes, so that is every instant.

Used by GET /locations/{id}/audit, the nightly check, and as the oracle of the property
tests. Same output as integrity.violations; one Violation per (appointment, rule).
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable
from zoneinfo import ZoneInfo

from .schedule import DEFAULT_TRAVEL_MINUTES, AppointmentFacts, Schedule, Violation

UTC = timezone.utc
DAY = timedelta(days=1)
MINUTE = timedelta(minutes=1)
MICRO = timedelta(microseconds=1)
DAY_CODES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WATCHERS = ("nurse", "prescriber")


def audit(schedule: Schedule, scope: Iterable[tuple[int, date]]) -> list[Violation]:
    days_at: dict[int, set[date]] = {}
    for location_id, day in scope:
        days_at.setdefault(location_id, set()).add(day)
    out = []
    for location_id in sorted(days_at):
        if location_id not in schedule.locations:
            continue
        todo = sorted((a for a in schedule.appointments.values()
                       if a.location_id == location_id and a.local_date in days_at[location_id]), key=lambda a: a.id)
        if not todo:
            continue
        place = _Place(schedule, location_id, todo)
        for a in todo:
            for rule, at, message in place.broken(a):
                out.append(Violation(rule, (a.id,), at, message))
    return out


def _wall_instant(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The first instant of `day` whose wall clock reads `wall`; when the clock jumps over
    it (spring forward), the instant of the jump."""
    naive = datetime.combine(day, wall)
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == naive:
        return first
    t = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)  # an instant before the jump
    offset = t.astimezone(tz).utcoffset()
    while (t + MINUTE).astimezone(tz).utcoffset() == offset:
        t += MINUTE
    return t + MINUTE


def _dates(start: datetime, end: datetime, tz: ZoneInfo) -> set[date]:
    """The local dates of the instants in [start, end)."""
    first, last = start.astimezone(tz).date(), (end - MICRO).astimezone(tz).date()
    return {first + k * DAY for k in range((last - first).days + 1)}


def _wall(text: str) -> time:
    return time(0) if text.startswith("24") else time(int(text[:2]), int(text[3:5]))


class _Place:
    """One location, and what its rules read, grouped for plain look-ups."""

    def __init__(self, schedule: Schedule, location_id: int, todo: list[AppointmentFacts]):
        self.s = schedule
        self.loc = schedule.locations[location_id]
        self.tz = ZoneInfo(self.loc.timezone)
        self.turnover = timedelta(minutes=self.loc.turnover_minutes)
        self.walls: dict = {}
        everyone = list(schedule.appointments.values())
        self.gap = {lid: self._gap(lid) for lid in schedule.locations}
        # How far apart (in days) two things may be and still matter to each other.
        longest = max([a.end - a.start for a in everyone] + [DAY])
        self.reach = (longest + max(self.gap.values(), default=timedelta(0))).days + 2
        self.by_day: dict[int | None, dict[date, list[AppointmentFacts]]] = {}  # provider (None: here)
        self.of: dict[tuple[str, int], list] = {}  # ("provider" | "patient" | "room" | "follows", id)
        for a in everyone:
            self.by_day.setdefault(a.provider_id, {}).setdefault(a.start.date(), []).append(a)
            if a.location_id == location_id:
                self.by_day.setdefault(None, {}).setdefault(a.start.date(), []).append(a)
            for kind, key in (("provider", a.provider_id), ("patient", a.patient_id),
                              ("room", None if a.telehealth else a.room_id), ("follows", a.follows_id)):
                self.of.setdefault((kind, key), []).append(a)
        for x in [*schedule.time_off.values(), *schedule.busy.values()]:
            self.of.setdefault(("off", x.provider_id), []).append(x)
        self.rules: dict[int, list] = {}
        for r in schedule.rules.values():
            if r.location_id == location_id:
                self.rules.setdefault(r.provider_id, []).append(r)
        staff = [p for p in schedule.providers.values() if p.active and p.id in self.rules]
        self.watchers = [p.id for p in staff if any(c in p.capabilities for c in WATCHERS)]
        self.prescribers = [p.id for p in staff if "prescriber" in p.capabilities]
        self.events = self._events(todo, everyone)

    def _gap(self, other_id: int) -> timedelta:
        if other_id == self.loc.id:
            return timedelta(0)
        key = (min(self.loc.id, other_id), max(self.loc.id, other_id))
        return timedelta(minutes=self.s.travel.get(key, DEFAULT_TRAVEL_MINUTES))

    def _events(self, todo, everyone) -> list[datetime]:
        lo = min(a.start for a in todo) - self.reach * DAY
        hi = max(a.end for a in todo) + self.reach * DAY
        points = set()
        for b in everyone:
            if lo <= b.start <= hi:
                g = self.gap.get(b.location_id, timedelta(0))
                points.update((b.start, b.provider_end, b.end, b.start - g, b.provider_end + g))
                if b.monitoring_start is not None:
                    points.update((b.monitoring_start, b.monitoring_end))
        for x in [*self.s.time_off.values(), *self.s.busy.values()]:
            points.update((x.start, x.end))
        day = lo.astimezone(self.tz).date() - DAY
        while day <= hi.astimezone(self.tz).date() + DAY:
            points.add(self._at(day, time(0)))
            for rules in self.rules.values():
                for r in rules:
                    if r.weekday == day.weekday():
                        points.update(self._rule_bounds(r, day))
            for start, end in self.loc.opening_hours.get(DAY_CODES[day.weekday()], []):
                points.update(self._bounds(day, _wall(start), _wall(end)))
            day += DAY
        return sorted(points)

    def _at(self, day: date, wall: time) -> datetime:
        key = (day, wall)
        if key not in self.walls:
            self.walls[key] = _wall_instant(day, wall, self.tz)
        return self.walls[key]

    def _bounds(self, day: date, start: time, end: time) -> tuple[datetime, datetime]:
        """[start, end) on `day` as instants; an end at midnight is the next day's."""
        return self._at(day, start), (self._at(day + DAY, time(0)) if end == time(0) else self._at(day, end))

    def _rule_bounds(self, r, day: date) -> tuple[datetime, datetime]:
        return self._bounds(day, r.start, time(0) if r.end >= time(23, 59, 59) else r.end)

    def instants(self, start: datetime, end: datetime) -> list[datetime]:
        """Every instant of [start, end) where something may change."""
        return [start] + self.events[bisect_right(self.events, start):bisect_left(self.events, end)]

    # ------------------------------------------------------------ facts at an instant

    def near(self, provider_id: int | None, t: datetime) -> list[AppointmentFacts]:
        """A provider's sessions (None: this location's) that start within reach of t."""
        days = self.by_day.get(provider_id, {})
        d = t.date()
        return [a for k in range(-self.reach, self.reach + 1) for a in days.get(d + k * DAY, ())]

    def on_rule(self, provider_id: int, t: datetime) -> bool:
        day = t.astimezone(self.tz).date()
        for r in self.rules.get(provider_id, ()):
            if r.weekday != day.weekday() or (r.valid_from and day < r.valid_from) \
                    or (r.valid_until and day > r.valid_until):
                continue
            start, end = self._rule_bounds(r, day)
            if start <= t < end:
                return True
        return False

    def on_site(self, provider_id: int, t: datetime) -> bool:
        if not self.on_rule(provider_id, t):
            return False
        return not any(x.start <= t < x.end for x in self.of.get(("off", provider_id), ()))

    def away(self, provider_id: int, t: datetime) -> bool:
        """Within the travel time of one of their sessions at another location."""
        for b in self.near(provider_id, t):
            there = self.s.locations.get(b.location_id)
            if b.location_id == self.loc.id or there is None:
                continue
            if there.state == self.loc.state:
                g = self.gap[b.location_id]
                if b.start - g <= t < b.provider_end + g:
                    return True
            elif t.astimezone(self.tz).date() in _dates(b.start, b.provider_end, ZoneInfo(there.timezone)):
                return True
        return False

    def with_patient(self, provider_id: int, t: datetime) -> bool:
        return any(b.start <= t < b.provider_end for b in self.near(provider_id, t))

    def slack(self, t: datetime) -> int:
        watching = sum(1 for p in self.watchers
                       if self.on_site(p, t) and not self.with_patient(p, t) and not self.away(p, t))
        monitored = sum(1 for b in self.near(None, t)
                        if b.monitoring_start is not None and b.monitoring_start <= t < b.monitoring_end)
        return self.loc.ratio * watching - monitored

    def prescriber_here(self, t: datetime) -> bool:
        return any(self.on_site(p, t) and not self.away(p, t) for p in self.prescribers)

    def open_at(self, t: datetime) -> bool:
        day = t.astimezone(self.tz).date()
        for start, end in self.loc.opening_hours.get(DAY_CODES[day.weekday()], []):
            lo, hi = self._bounds(day, _wall(start), _wall(end))
            if lo <= t < hi:
                return True
        return False

    # ------------------------------------------------------------ the rules

    def broken(self, a: AppointmentFacts):
        s, loc = self.s, self.loc
        p = s.providers.get(a.provider_id)
        st = s.session_types.get(a.type_code)
        patient = s.patients.get(a.patient_id)
        dosing = st is not None and st.category == "dosing"
        if p is None or not p.active:
            yield "provider_inactive", a.start, "inactive provider"
        if p is not None and st is not None and not set(p.capabilities) & set(st.capabilities):
            yield "provider_not_qualified", a.start, "capabilities"
        where = (patient.state if patient is not None else "") if a.telehealth else loc.state
        if p is not None and where not in p.licensed_states:
            yield "license", a.start, f"no {where} licence"
        for t in self.instants(a.start, a.provider_end):
            if not self.on_rule(a.provider_id, t):
                yield "provider_unavailable", t, "no weekly rule here"
                break
        mine = [x for x in s.time_off.values() if x.provider_id == a.provider_id]
        if any(x.start < a.provider_end and a.start < x.end for x in mine):
            yield "provider_time_off", a.start, "time off"
        mine = [x for x in s.busy.values() if x.provider_id == a.provider_id]
        if any(x.start < a.provider_end and a.start < x.end for x in mine):
            yield "external_busy", a.start, "busy"
        others = [b for b in self.of[("provider", a.provider_id)] if b.id != a.id]
        if any(self._too_close(a, b) for b in others):
            yield "travel_time", a.start, "travel"
        if any(b.start < a.provider_end and a.start < b.provider_end for b in others):
            yield "provider_overlap", a.start, "double-booked provider"
        if not a.telehealth:
            room = s.rooms.get(a.room_id) if a.room_id is not None else None
            if room is None or not room.active or room.location_id != loc.id or (
                    st is not None and room.kind != st.room_kind) or any(
                    b.id != a.id and b.start < a.end + self.turnover and a.start < b.end + self.turnover
                    for b in self.of.get(("room", a.room_id), ())):
                yield "room_unavailable", a.start, "room"
            if not self.open_at(a.start):
                yield "clinic_closed", a.start, "closed"
            elif not all(self.open_at(t) for t in self.instants(a.start, a.end)):
                yield "after_closing", a.start, "past closing"
        if a.monitoring_start is not None and a.monitoring_end > a.monitoring_start:
            for t in self.instants(a.monitoring_start, a.monitoring_end):
                if self.slack(t) < 0:
                    yield "monitoring_capacity", t, "unwatched"
                    break
        if st is not None and st.rems and not all(self.prescriber_here(t) for t in self.instants(a.start, a.end)):
            yield "rems_prescriber", a.start, "no prescriber on site"
        theirs = [b for b in self.of[("patient", a.patient_id)] if b.id != a.id]
        if any(b.start < a.end and a.start < b.end for b in theirs):
            yield "patient_overlap", a.start, "double-booked patient"
        if dosing and any(b.local_date == a.local_date and b.type_code in s.session_types
                          and s.session_types[b.type_code].category == "dosing" for b in theirs):
            yield "one_dosing_per_day", a.start, "second dosing that day"
        first = s.appointments.get(a.follows_id) if a.follows_id is not None else None
        if (first is not None and a.start < first.end) or any(
                b.start < a.end for b in self.of.get(("follows", a.id), ())):
            yield "follow_order", a.start, "follow-up before the dosing session ends"
        if st is not None and a.telehealth and not st.telehealth_allowed:
            yield "telehealth_not_allowed", a.start, "telehealth"
        if dosing and not (patient is not None and patient.cleared_for_dosing):
            yield "consultation_required", a.start, "not cleared"

    def _too_close(self, a: AppointmentFacts, b: AppointmentFacts) -> bool:
        there = self.s.locations.get(b.location_id)
        if b.location_id == self.loc.id or there is None:
            return False
        if there.state == self.loc.state:
            g = self.gap[b.location_id]
            return b.start - g < a.provider_end and a.start < b.provider_end + g
        return bool(_dates(a.start, a.provider_end, self.tz) & _dates(b.start, b.provider_end, ZoneInfo(there.timezone)))
