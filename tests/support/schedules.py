"""Build schedules of domain facts by hand, for the pure rule tests (no database)."""
from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from scheduler.domain.availability import snapshot
from scheduler.domain.intervals import Interval
from scheduler.domain.schedule import (
    AppointmentFacts,
    BusyFacts,
    LocationFacts,
    PatientFacts,
    ProviderFacts,
    RoomFacts,
    RuleFacts,
    Schedule,
    SessionTypeFacts,
    TimeOffFacts,
)
from scheduler.domain.scheduling import check_start

UTC = timezone.utc
LA = "America/Los_Angeles"
MON = date(2030, 1, 7)
NOW = datetime(2030, 1, 1, 16, 0, tzinfo=UTC)
M = timedelta(minutes=1)
ALL_WEEK = range(7)

TYPES = {t.code: t for t in (
    SessionTypeFacts("ketamine_iv", "dosing", frozenset({"nurse", "prescriber"}), "treatment", 40, 60),
    SessionTypeFacts("ketamine_im", "dosing", frozenset({"nurse", "prescriber"}), "treatment", 15, 60),
    SessionTypeFacts("ketamine_sublingual", "dosing", frozenset({"prescriber"}), "treatment", 30, 120),
    SessionTypeFacts("esketamine_nasal", "dosing", frozenset({"prescriber", "nurse"}), "treatment", 15, 120,
                     rems=True),
    SessionTypeFacts("integration", "integration", frozenset({"therapist"}), "therapy", 50,
                     telehealth_allowed=True),
    SessionTypeFacts("consultation", "consultation", frozenset({"prescriber"}), "therapy", 60,
                     telehealth_allowed=True),
)}


def at(hm: str, day: date = MON, tz: str = LA) -> datetime:
    """The UTC instant of a local wall-clock time (first occurrence)."""
    local = datetime.combine(day, time.fromisoformat(hm)).replace(tzinfo=ZoneInfo(tz))
    return local.astimezone(UTC)


def hm(t: datetime, tz: str = LA) -> str:
    return t.astimezone(ZoneInfo(tz)).strftime("%H:%M")


class Clinic:
    """Facts accumulated with fresh ids; .schedule() freezes them."""

    def __init__(self):
        self.locations, self.rooms, self.providers, self.rules = [], [], [], []
        self.time_off, self.busy, self.patients, self.appointments = [], [], [], []
        self.travel: dict[tuple[int, int], int] = {}
        self.types = dict(TYPES)
        self._ids = iter(range(1, 1_000_000))

    def _id(self) -> int:
        return next(self._ids)

    def location(self, state="CA", tz=LA, opening=("07:00", "19:00"), ratio=3, turnover=15, slot=15,
                 days=ALL_WEEK, **kw) -> LocationFacts:
        codes = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        loc = LocationFacts(self._id(), tz, state, {codes[d]: [list(opening)] for d in days}, ratio, turnover,
                            slot, **kw)
        self.locations.append(loc)
        return loc

    def room(self, loc: LocationFacts, kind="treatment", count=1) -> list[RoomFacts]:
        made = [RoomFacts(self._id(), loc.id, kind, name=f"{kind} {i}") for i in range(count)]
        self.rooms += made
        return made

    def provider(self, caps, states=("CA",), at=None, hours=("08:00", "17:00"), days=ALL_WEEK) -> ProviderFacts:
        p = ProviderFacts(self._id(), frozenset(caps), frozenset(states))
        self.providers.append(p)
        if at is not None:
            self.work(p, at, hours, days)
        return p

    def work(self, p, loc, hours=("08:00", "17:00"), days=ALL_WEEK, valid_from=None, valid_until=None):
        start, end = (time.fromisoformat(h) for h in hours)
        for d in days:
            self.rules.append(RuleFacts(self._id(), p.id, loc.id, d, start, end, valid_from, valid_until))

    def patient(self, state="CA", cleared=True) -> PatientFacts:
        x = PatientFacts(self._id(), state, cleared)
        self.patients.append(x)
        return x

    def off(self, p, start, end) -> TimeOffFacts:
        x = TimeOffFacts(self._id(), p.id, start, end)
        self.time_off.append(x)
        return x

    def busy_block(self, p, start, end) -> BusyFacts:
        x = BusyFacts(self._id(), p.id, start, end)
        self.busy.append(x)
        return x

    def book(self, code, loc, start, provider, patient=None, room=None, telehealth=False,
             follows=None) -> AppointmentFacts:
        """An appointment with the type's phases, whatever the rules say."""
        st = self.types[code]
        pe = start + st.administering_minutes * M
        end = pe + st.monitoring_minutes * M
        patient = patient or self.patient()
        a = AppointmentFacts(
            self._id(), patient.id, provider.id, loc.id, None if telehealth else (room.id if room else None), code,
            start, pe, end, start.astimezone(ZoneInfo(loc.timezone)).date(),
            monitoring_start=pe if st.monitoring_minutes else None,
            monitoring_end=end if st.monitoring_minutes else None, telehealth=telehealth,
            follows_id=follows.id if follows else None)
        self.appointments.append(a)
        return a

    def move(self, a: AppointmentFacts, start: datetime, **changes) -> AppointmentFacts:
        """Shift an appointment's phases to a new start (and change fields), in place."""
        loc = next(x for x in self.locations if x.id == changes.get("location_id", a.location_id))
        delta = start - a.start
        mon = {} if a.monitoring_start is None else {
            "monitoring_start": a.monitoring_start + delta, "monitoring_end": a.monitoring_end + delta}
        new = dataclasses.replace(a, start=start, provider_end=a.provider_end + delta, end=a.end + delta,
                                  local_date=start.astimezone(ZoneInfo(loc.timezone)).date(), **mon, **changes)
        self.appointments = [new if x.id == a.id else x for x in self.appointments]
        return new

    def schedule(self) -> Schedule:
        return Schedule.of(self.locations, self.rooms, self.providers, self.rules, self.time_off, self.busy,
                           self.travel, self.types.values(), self.patients, self.appointments)


def ask(schedule: Schedule, loc, code: str, start: datetime, patient=None, now=NOW, telehealth=False,
        provider_id=None, room_id=None, exclude_id=None, follows_id=None):
    """check_start on a snapshot built from the schedule, as the services will."""
    snap = snapshot(schedule, loc.id, code, Interval(start, start + M), patient.id if patient else None,
                    exclude_id=exclude_id, follows_id=follows_id)
    return check_start(snap.site, snap.spec, start, snap.staff, snap.rooms, now, snap.patient, telehealth,
                       provider_id, room_id)
