"""The facts of a schedule: plain frozen values close to the database rows.

Nothing here is expanded or derived: weekly rules stay wall-clock rules, opening hours stay
the stored dict, appointments keep their stored phases. Instants are aware datetimes,
converted to UTC on construction when they are not already. domain/schedule.py holds them
in a Schedule (and re-exports them).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Mapping, Sequence
from zoneinfo import ZoneInfo

UTC = timezone.utc
OCCUPYING = frozenset({"booked", "checked-in", "fulfilled"})
CLINICIANS = frozenset({"nurse", "prescriber"})
DEFAULT_TRAVEL_MINUTES = 90
# Every invariant, in the order a front desk would read them.
RULES = ("provider_inactive", "provider_not_qualified", "license", "provider_unavailable",
         "provider_time_off", "external_busy", "travel_time", "provider_overlap", "room_unavailable",
         "clinic_closed", "after_closing", "monitoring_capacity", "rems_prescriber", "patient_overlap",
         "one_dosing_per_day", "follow_order", "telehealth_not_allowed", "consultation_required")


def _utc(t: datetime) -> datetime:
    if t.tzinfo is UTC:
        return t
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"naive datetime {t!r}: facts hold aware instants")
    return t.astimezone(UTC)


class _Instants:
    """Converts the datetime fields named in _INSTANTS to UTC after __init__."""

    _INSTANTS: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in self._INSTANTS:
            value = getattr(self, name)
            if value is not None and value.tzinfo is not UTC:
                object.__setattr__(self, name, _utc(value))


@dataclass(frozen=True)
class LocationFacts:
    id: int
    timezone: str
    state: str
    opening_hours: Mapping[str, Sequence[Sequence[str]]] = field(default_factory=dict, hash=False)  # {"mon": [["08:00", "18:00"]]}
    ratio: int = 3
    turnover_minutes: int = 15
    slot_minutes: int = 15
    rems_certified: bool = True  # no column yet (a later issue)
    name: str = ""

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)  # zoneinfo caches instances by key

    @property
    def turnover(self) -> timedelta:
        return timedelta(minutes=self.turnover_minutes)


@dataclass(frozen=True)
class RoomFacts:
    id: int
    location_id: int
    kind: str  # treatment | therapy
    active: bool = True
    name: str = ""


@dataclass(frozen=True)
class ProviderFacts:
    id: int
    capabilities: frozenset[str]
    licensed_states: frozenset[str]
    active: bool = True
    name: str = ""


@dataclass(frozen=True)
class RuleFacts:
    """A weekly working window at one location, in its wall-clock time. An end of 00:00 or
    23:59:59 and later means the midnight that ends the day."""

    id: int
    provider_id: int
    location_id: int
    weekday: int  # 0 = Monday
    start: time
    end: time
    valid_from: date | None = None
    valid_until: date | None = None


@dataclass(frozen=True)
class TimeOffFacts(_Instants):
    """A provider's dated absence, [start, end)."""

    id: int
    provider_id: int
    start: datetime
    end: datetime
    _INSTANTS = ("start", "end")


@dataclass(frozen=True)
class BusyFacts(TimeOffFacts):
    """Busy time imported from a provider's own calendar (a rule of its own: external_busy)."""


@dataclass(frozen=True)
class SessionTypeFacts:
    code: str
    category: str  # dosing | integration | consultation
    capabilities: frozenset[str]
    room_kind: str
    administering_minutes: int
    monitoring_minutes: int = 0
    rems: bool = False
    telehealth_allowed: bool = False
    min_notice_minutes: int = 120
    follow_window_hours: int = 72
    id: int | None = None

    @property
    def is_dosing(self) -> bool:
        return self.category == "dosing"


@dataclass(frozen=True)
class PatientFacts:
    id: int
    state: str  # the home location's state: where a telehealth session happens
    cleared_for_dosing: bool = False  # a dosing clearance, or any fulfilled consultation
    home_location_id: int | None = None


@dataclass(frozen=True)
class AppointmentFacts(_Instants):
    """An occupying appointment with its stored phases: the provider is held over
    [start, provider_end), the patient (and the room, plus turnover) over [start, end), and
    the patient is monitored over [monitoring_start, monitoring_end) when that is set."""

    id: int
    patient_id: int
    provider_id: int
    location_id: int
    room_id: int | None
    type_code: str
    start: datetime
    provider_end: datetime
    end: datetime
    local_date: date  # at the location
    monitoring_start: datetime | None = None
    monitoring_end: datetime | None = None
    telehealth: bool = False
    follows_id: int | None = None
    status: str = "booked"
    _INSTANTS = ("start", "provider_end", "end", "monitoring_start", "monitoring_end")

    @property
    def monitored(self) -> bool:
        return self.monitoring_start is not None and self.monitoring_end > self.monitoring_start

    @classmethod
    def from_phases(cls, id: int, phases, *, patient_id: int, provider_id: int, location: LocationFacts,
                    room_id: int | None, type_code: str, telehealth: bool = False,
                    follows_id: int | None = None, status: str = "booked") -> AppointmentFacts:
        """From domain.scheduling.Phases (what check_start answered)."""
        mon = phases.monitoring
        return cls(id=id, patient_id=patient_id, provider_id=provider_id, location_id=location.id,
                   room_id=None if telehealth else room_id, type_code=type_code, start=phases.start,
                   provider_end=phases.provider_end, end=phases.end,
                   local_date=_utc(phases.start).astimezone(location.tz).date(),
                   monitoring_start=mon.start if mon else None, monitoring_end=mon.end if mon else None,
                   telehealth=telehealth, follows_id=follows_id, status=status)
