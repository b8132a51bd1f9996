"""The Schedule: every fact the rules read, for a window, as one immutable value.

The facts themselves live in domain/facts.py and are re-exported here. The Schedule's
``with_*`` / ``without_*`` helpers return a new one, so a write can compute the violations
before and after a change without touching the database; its look-ups (a provider's,
patient's or room's appointments, sorted by start) are indexed once, on first use.
"""
from __future__ import annotations

import dataclasses
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Iterable, Mapping, Sequence

from .facts import (  # noqa: F401  (re-exported: the facts are part of this module's interface)
    CLINICIANS,
    DEFAULT_TRAVEL_MINUTES,
    OCCUPYING,
    RULES,
    UTC,
    AppointmentFacts,
    BusyFacts,
    LocationFacts,
    PatientFacts,
    ProviderFacts,
    RoomFacts,
    RuleFacts,
    SessionTypeFacts,
    TimeOffFacts,
)


@dataclass(frozen=True, order=True)
class Violation:
    """A rule broken for some appointments; `at` is the instant where it starts."""

    rule: str
    appointment_ids: tuple[int, ...]
    at: datetime
    message: str = field(default="", compare=False)


def pairs(violations: Iterable[Violation]) -> set[tuple[str, int]]:
    """(rule, appointment id) for every appointment each violation names."""
    return {(v.rule, i) for v in violations for i in v.appointment_ids}


def scope_of(location_ids: Iterable[int], first: date, last: date) -> frozenset[tuple[int, date]]:
    days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    return frozenset((lid, d) for lid in location_ids for d in days)


def _by_id(items) -> dict:
    return {x.id: x for x in items}


@dataclass(frozen=True)
class Schedule:
    """Every fact the rules read, for a window (the loader decides which)."""

    locations: Mapping[int, LocationFacts]
    rooms: Mapping[int, RoomFacts] = field(default_factory=dict)
    providers: Mapping[int, ProviderFacts] = field(default_factory=dict)
    rules: Mapping[int, RuleFacts] = field(default_factory=dict)
    time_off: Mapping[int, TimeOffFacts] = field(default_factory=dict)
    busy: Mapping[int, BusyFacts] = field(default_factory=dict)
    travel: Mapping[tuple[int, int], int] = field(default_factory=dict)  # minutes, low id first
    session_types: Mapping[str, SessionTypeFacts] = field(default_factory=dict)
    patients: Mapping[int, PatientFacts] = field(default_factory=dict)
    appointments: Mapping[int, AppointmentFacts] = field(default_factory=dict)
    _index: dict | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def of(cls, locations=(), rooms=(), providers=(), rules=(), time_off=(), busy=(), travel=None,
           session_types=(), patients=(), appointments=()) -> Schedule:
        """From iterables of facts (cancelled and no-show appointments are left out)."""
        return cls(locations=_by_id(locations), rooms=_by_id(rooms), providers=_by_id(providers),
                   rules=_by_id(rules), time_off=_by_id(time_off), busy=_by_id(busy),
                   travel={tuple(sorted(k)): v for k, v in (travel or {}).items()},
                   session_types={t.code: t for t in session_types}, patients=_by_id(patients),
                   appointments={a.id: a for a in appointments if a.status in OCCUPYING})

    # ------------------------------------------------------------ look-ups

    def travel_minutes(self, a: int, b: int) -> int:
        if a == b:
            return 0
        return self.travel.get((a, b) if a < b else (b, a), DEFAULT_TRAVEL_MINUTES)

    def max_travel(self) -> timedelta:
        return timedelta(minutes=max([DEFAULT_TRAVEL_MINUTES, *self.travel.values()]))

    def _idx(self) -> dict:
        if self._index is None:
            idx: dict = {"provider": {}, "patient": {}, "room": {}, "location": {}, "followers": {},
                         "rules": {}, "rules_at": {}, "time_off": {}, "busy": {}}
            for a in sorted(self.appointments.values(), key=lambda x: (x.start, x.id)):
                idx["provider"].setdefault(a.provider_id, []).append(a)
                idx["patient"].setdefault(a.patient_id, []).append(a)
                idx["location"].setdefault(a.location_id, []).append(a)
                if a.room_id is not None and not a.telehealth:
                    idx["room"].setdefault(a.room_id, []).append(a)
                if a.follows_id is not None:
                    idx["followers"].setdefault(a.follows_id, []).append(a)
            for r in self.rules.values():
                idx["rules"].setdefault((r.provider_id, r.location_id), []).append(r)
                idx["rules_at"].setdefault(r.location_id, set()).add(r.provider_id)
            for name, facts in (("time_off", self.time_off), ("busy", self.busy)):
                for x in sorted(facts.values(), key=lambda x: x.start):
                    idx[name].setdefault(x.provider_id, []).append(x)
            longest = max((a.end - a.start for a in self.appointments.values()), default=timedelta(0))
            idx["longest"] = max(longest, timedelta(days=1))
            object.__setattr__(self, "_index", idx)
        return self._index

    def appointments_of_provider(self, provider_id: int) -> Sequence[AppointmentFacts]:
        """Sorted by start, like every list below."""
        return self._idx()["provider"].get(provider_id, ())

    def appointments_of_patient(self, patient_id: int) -> Sequence[AppointmentFacts]:
        return self._idx()["patient"].get(patient_id, ())

    def appointments_in_room(self, room_id: int) -> Sequence[AppointmentFacts]:
        """In-person appointments only: a telehealth session holds no room."""
        return self._idx()["room"].get(room_id, ())

    def appointments_at(self, location_id: int) -> Sequence[AppointmentFacts]:
        return self._idx()["location"].get(location_id, ())

    def followers(self, appointment_id: int) -> Sequence[AppointmentFacts]:
        """The sessions linked to this one with follows_id."""
        return self._idx()["followers"].get(appointment_id, ())

    def rules_of(self, provider_id: int, location_id: int) -> Sequence[RuleFacts]:
        return self._idx()["rules"].get((provider_id, location_id), ())

    def providers_at(self, location_id: int) -> list[int]:
        """Active providers with a weekly rule at the location, by id."""
        ids = self._idx()["rules_at"].get(location_id, ())
        return sorted(p for p in ids if p in self.providers and self.providers[p].active)

    def locations_of(self, provider_id: int) -> set[int]:
        """Where the provider has weekly rules."""
        return {lid for (pid, lid) in self._idx()["rules"] if pid == provider_id}

    def time_off_of(self, provider_id: int) -> Sequence[TimeOffFacts]:
        return self._idx()["time_off"].get(provider_id, ())

    def busy_of(self, provider_id: int) -> Sequence[BusyFacts]:
        return self._idx()["busy"].get(provider_id, ())

    def near(self, items: Sequence[AppointmentFacts], lo: datetime, hi: datetime) -> Sequence[AppointmentFacts]:
        """The appointments of a start-sorted list that may reach into [lo, hi)."""
        i = bisect_left(items, lo - self._idx()["longest"], key=lambda a: a.start)
        j = bisect_left(items, hi, lo=i, key=lambda a: a.start)
        return items[i:j]

    def scope(self) -> frozenset[tuple[int, date]]:
        """The (location, local date) of every appointment: the whole schedule."""
        return frozenset((a.location_id, a.local_date) for a in self.appointments.values())

    # ------------------------------------------------------------ pure changes

    def _put(self, name: str, key, value) -> Schedule:
        return dataclasses.replace(self, **{name: {**getattr(self, name), key: value}})

    def _drop(self, name: str, key) -> Schedule:
        return dataclasses.replace(self, **{name: {k: v for k, v in getattr(self, name).items() if k != key}})

    def with_appointment(self, a: AppointmentFacts) -> Schedule:
        """Added or replaced; an appointment that no longer occupies (cancelled, no-show) leaves."""
        if a.status not in OCCUPYING:
            return self.without_appointment(a.id)
        return self._put("appointments", a.id, a)

    replace_appointment = with_appointment

    def without_appointment(self, appointment_id: int) -> Schedule:
        return self._drop("appointments", appointment_id)

    def with_time_off(self, t: TimeOffFacts) -> Schedule:
        return self._put("time_off", t.id, t)

    def without_time_off(self, time_off_id: int) -> Schedule:
        return self._drop("time_off", time_off_id)

    def with_busy(self, b: BusyFacts) -> Schedule:
        return self._put("busy", b.id, b)

    def without_busy(self, busy_id: int) -> Schedule:
        return self._drop("busy", busy_id)

    def with_rule(self, r: RuleFacts) -> Schedule:
        return self._put("rules", r.id, r)

    def without_rule(self, rule_id: int) -> Schedule:
        return self._drop("rules", rule_id)

    def with_location(self, loc: LocationFacts) -> Schedule:
        """A timezone change moves the local dates of the location's appointments with it."""
        changed = self._put("locations", loc.id, loc)
        old = self.locations.get(loc.id)
        if old is None or old.timezone == loc.timezone:
            return changed
        tz = loc.tz
        return dataclasses.replace(changed, appointments={
            k: dataclasses.replace(a, local_date=a.start.astimezone(tz).date()) if a.location_id == loc.id else a
            for k, a in self.appointments.items()})

    def with_room(self, room: RoomFacts) -> Schedule:
        return self._put("rooms", room.id, room)

    def with_provider(self, p: ProviderFacts) -> Schedule:
        return self._put("providers", p.id, p)

    def with_session_type(self, t: SessionTypeFacts) -> Schedule:
        return self._put("session_types", t.code, t)

    def with_patient(self, p: PatientFacts) -> Schedule:
        return self._put("patients", p.id, p)

    def with_travel(self, a: int, b: int, minutes: int) -> Schedule:
        return self._put("travel", (min(a, b), max(a, b)), minutes)

    def next_appointment_id(self) -> int:
        return max(self.appointments, default=0) + 1
