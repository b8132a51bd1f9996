"""The scheduling rules: may a session start at this instant, and who and where can take it.

One function, ``check_start``, decides for both slot search and booking, so a slot that
is offered can be booked and a booking refused names the rule it broke. Everything
here takes plain values: the services load them from the database.

The monitoring rule is a count, not a pair overlap. At every instant at a location,
``slack = ratio * watchers - monitored``, where watchers are the clinicians (nurses and
prescribers) on site and not busy with a patient of their own, and monitored the
patients in their monitoring window. A new dosing session takes one watcher away while
it is administered (so slack must stay >= ratio there) and adds one monitored patient
afterwards (so slack must stay >= 1 there).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import NamedTuple, Sequence

from .intervals import Interval, StepFunction, covers, merge, overlaps_any, subtract
from .localtime import grid_starts, local_date_of

CLINICIANS = frozenset({"nurse", "prescriber"})
TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class SessionSpec:
    code: str
    category: str  # dosing | integration | consultation
    administering: timedelta
    monitoring: timedelta
    room_kind: str
    capabilities: frozenset[str]
    rems: bool = False
    telehealth_allowed: bool = False
    min_notice: timedelta = timedelta(hours=2)

    @property
    def is_dosing(self) -> bool:
        return self.category == "dosing"


@dataclass(frozen=True)
class Phases:
    start: datetime
    provider_end: datetime  # the provider is held until here (administering, for dosing)
    end: datetime  # end of chair time for dosing, of the session otherwise
    monitoring: Interval | None
    room_end: datetime | None  # end plus turnover; None for telehealth

    @property
    def chair(self) -> Interval:
        return Interval(self.start, self.end)

    @property
    def provider_time(self) -> Interval:
        return Interval(self.start, self.provider_end)


def phases(spec: SessionSpec, start: datetime, turnover: timedelta, telehealth: bool = False) -> Phases:
    provider_end = start + spec.administering
    end = provider_end + spec.monitoring
    return Phases(start=start, provider_end=provider_end, end=end,
                  monitoring=Interval(provider_end, end) if spec.monitoring else None,
                  room_end=None if telehealth else end + turnover)


@dataclass
class Staff:
    """A provider as the rules see them at one location, over the search window."""

    id: int
    capabilities: frozenset[str]
    licensed_states: frozenset[str]
    on_site: Sequence[Interval]  # normalised: working here by rule, minus time off and outside busy
    busy: Sequence[Interval]  # normalised: with a patient (own appointments, any location)
    travel: Sequence[Interval] = ()  # normalised: too close to a session at another location
    load: dict[date, int] = field(default_factory=dict)  # minutes booked per local date
    _free: list[Interval] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def is_clinician(self) -> bool:
        return bool(self.capabilities & CLINICIANS)

    @property
    def free(self) -> list[Interval]:
        """On site, not busy, not travelling: computed once, so a check is one bisect."""
        if self._free is None:
            self._free = subtract(self.on_site, merge(list(self.busy) + list(self.travel)))
        return self._free


@dataclass
class RoomState:
    id: int
    busy: Sequence[Interval]  # normalised: [start, end + turnover) of its bookings
    load: dict[date, int] = field(default_factory=dict)


@dataclass
class PatientState:
    id: int
    state: str  # where the patient is: their home location's state (telehealth licensure)
    cleared_for_dosing: bool
    busy: Sequence[Interval] = ()  # normalised: their sessions
    dosing_dates: frozenset[date] = frozenset()


@dataclass
class Site:
    """A location over the search window, with its existing bookings folded in."""

    location_id: int
    tz: tzinfo
    state: str
    ratio: int
    turnover: timedelta
    grid_minutes: int
    opening: Sequence[Interval]  # normalised opening hours
    slack: StepFunction  # ratio * free clinicians - patients being monitored
    prescribers_on_site: Sequence[Interval]  # normalised union


@dataclass(frozen=True)
class Outcome:
    phases: Phases
    providers: tuple[int, ...] = ()
    rooms: tuple[int, ...] = ()
    code: str | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.code is None


def watchers_and_slack(ratio: int, clinicians: Sequence[Staff], monitoring: Sequence[Interval]) -> StepFunction:
    """slack(t) = ratio * (clinicians on site and not busy) - (patients being monitored).

    A clinician within the travel time of a session at another location is not here.
    """
    free = [iv for c in clinicians if c.is_clinician for iv in subtract(c.on_site, [*c.busy, *c.travel])]
    return StepFunction.count(free).scale(ratio) - StepFunction.count(monitoring)


def check_start(site: Site, spec: SessionSpec, start: datetime, staff: Sequence[Staff],
                rooms: Sequence[RoomState], now: datetime, patient: PatientState | None = None,
                telehealth: bool = False, provider_id: int | None = None,
                room_id: int | None = None) -> Outcome:
    """Every rule of PRODUCT.md at one start; the first broken rule is the answer."""
    ph = phases(spec, start, site.turnover, telehealth)

    def refuse(code: str, message: str) -> Outcome:
        return Outcome(ph, code=code, message=message)

    if telehealth and not spec.telehealth_allowed:
        return refuse("telehealth_not_allowed", f"{spec.code} cannot be held by telehealth.")
    if start < now + spec.min_notice:
        return refuse("too_soon", f"{spec.code} needs {_minutes(spec.min_notice)} min notice.")
    if not telehealth:
        if not covers(site.opening, Interval(start, start + TICK)):
            return refuse("clinic_closed", "The location is closed at that time.")
        if not covers(site.opening, ph.chair):
            return refuse("after_closing", "The session would run past closing time.")
    local_day = local_date_of(start, site.tz)
    if patient is not None:
        if spec.is_dosing and not patient.cleared_for_dosing:
            return refuse("consultation_required",
                          "A first dosing session needs a fulfilled consultation or a dosing clearance.")
        if overlaps_any(patient.busy, ph.chair):
            return refuse("patient_overlap", "The patient has another session at that time.")
        if spec.is_dosing and local_day in patient.dosing_dates:
            return refuse("one_dosing_per_day", "The patient already has a dosing session that day.")
    free_rooms: tuple[int, ...] = ()
    if not telehealth:
        candidates = [r for r in rooms if room_id is None or r.id == room_id]
        if room_id is not None and not candidates:
            return refuse("room_unavailable", f"Room {room_id} is not an active {spec.room_kind} room here.")
        taken = Interval(start, ph.room_end)
        free = [r for r in candidates if not overlaps_any(r.busy, taken)]
        if not free:
            return refuse("room_unavailable", "No suitable room is free for the whole session and turnover.")
        free_rooms = tuple(r.id for r in sorted(free, key=lambda r: (r.load.get(local_day, 0), r.id)))
    if spec.is_dosing:
        if spec.rems and not covers(site.prescribers_on_site, ph.chair):
            return refuse("rems_prescriber", "A prescriber must be on site for the whole chair time (REMS).")
        if site.slack.min_over(ph.provider_time) < site.ratio or (
                ph.monitoring is not None and site.slack.min_over(ph.monitoring) < 1):
            return refuse("monitoring_capacity",
                          "No clinician would be free to monitor the patient for the whole window.")
    state = patient.state if (telehealth and patient is not None) else site.state
    outcome = _providers(spec, ph, staff, state, local_day, provider_id)
    if isinstance(outcome, _Refusal):
        return refuse(outcome.code, outcome.message)
    return Outcome(ph, providers=outcome, rooms=free_rooms)


class _Refusal(NamedTuple):
    code: str
    message: str


def _providers(spec: SessionSpec, ph: Phases, staff: Sequence[Staff], state: str, day: date,
               provider_id: int | None):
    """The providers who can take it, least loaded first; or a _Refusal(code, message)."""
    pool = [s for s in staff if provider_id is None or s.id == provider_id]
    if provider_id is not None and not pool:
        return _Refusal("provider_unavailable",
                        f"Provider {provider_id} does not work at this location.")
    qualified = [s for s in pool if s.capabilities & spec.capabilities]
    if not qualified:
        return _Refusal("provider_not_qualified",
                        f"{spec.code} needs one of: {', '.join(sorted(spec.capabilities))}.")
    licensed = [s for s in qualified if state in s.licensed_states]
    if not licensed:
        return _Refusal("license", f"No qualified provider here holds a {state} licence.")
    need = ph.provider_time
    free = [s for s in licensed if covers(s.free, need)]
    if free:
        return tuple(s.id for s in sorted(free, key=lambda s: (s.load.get(day, 0), s.id)))
    reasons = set()
    for s in licensed:  # nobody is free: say why (the slow path runs only on refusals)
        if not covers(s.on_site, need):
            reasons.add("provider_unavailable")
        elif overlaps_any(s.busy, need):
            reasons.add("provider_unavailable")
        elif overlaps_any(s.travel, need):
            reasons.add("travel_time")
    if reasons == {"travel_time"}:
        return _Refusal("travel_time",
                        "The provider needs travel time from a session at another location.")
    return _Refusal("provider_unavailable", "No qualified provider is free for that time.")


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime
    providers: tuple[int, ...]
    rooms: tuple[int, ...]


def search(site: Site, spec: SessionSpec, window: Interval, staff: Sequence[Staff],
           rooms: Sequence[RoomState], now: datetime, patient: PatientState | None = None,
           telehealth: bool = False, provider_id: int | None = None) -> list[Slot]:
    """Bookable starts on the location's wall-clock grid within window.

    check_start decides every start; the filters before it only drop starts it would
    refuse anyway (closed, nobody qualified and free), so most of the day costs little.
    """
    earliest = now + spec.min_notice
    chair = spec.administering + spec.monitoring
    state = patient.state if (telehealth and patient is not None) else site.state
    anyone = merge(iv for s in staff if (provider_id is None or s.id == provider_id)
                   and s.capabilities & spec.capabilities and state in s.licensed_states for iv in s.free)
    slots = []
    for start in grid_starts(window, site.tz, site.grid_minutes):
        if start < earliest or not covers(anyone, Interval(start, start + spec.administering)):
            continue
        if not telehealth and not covers(site.opening, Interval(start, start + chair)):
            continue
        out = check_start(site, spec, start, staff, rooms, now, patient, telehealth, provider_id)
        if out.ok:
            slots.append(Slot(start, out.phases.end, out.providers, out.rooms))
    return slots


def checkpoints(definitions: Sequence[dict], start: datetime, monitoring_start: datetime,
                end: datetime) -> list[tuple[str, datetime]]:
    """The monitoring checkpoints of one appointment, in time order (for the day sheet).

    Each definition is {"label", "anchor": start|monitoring_start|end, "offset_minutes"}.
    """
    anchors = {"start": start, "monitoring_start": monitoring_start, "end": end}
    points = [(d["label"], anchors[d["anchor"]] + timedelta(minutes=d["offset_minutes"]))
              for d in definitions if d.get("anchor") in anchors]
    return sorted(points, key=lambda p: p[1])


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)
