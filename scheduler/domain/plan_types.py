"""The planner's inputs and outputs (planner.py): a patient's situation in, a plan out.

Instants are tz-aware (any offset); the planner returns them in UTC. Mappings are plain
dicts. Keys: text_key() (see planner.py for the kinds).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .text_rules import CATEGORIES, UTC, PlanningError, Policy, aware

# Visits still owed texts; "cancelled" may be owed a notice; any other status none.
PLANNED_STATUSES = frozenset({"booked", "confirmed"})


@dataclass(frozen=True)
class ClinicInfo:
    display_name: str
    phone: str
    address: str


@dataclass(frozen=True)
class Visit:
    appointment_id: int | str
    start: datetime
    category: str
    clinic: ClinicInfo
    status: str = "booked"
    session_type_code: str = ""
    instructions: Mapping[str, object] = field(default_factory=dict)
    telehealth: bool = False
    overrides: Mapping[str, str] = field(default_factory=dict)  # {kind | kind.short: text}
    notify_on_cancel: bool | None = None
    booked_at: datetime | None = None   # the confirmation's time (None: now)
    changed_at: datetime | None = None  # when the start last changed or it was cancelled
    course_id: int | str | None = None

    def __post_init__(self):
        for name in ("start", "booked_at", "changed_at"):
            if getattr(self, name) is not None:
                aware(getattr(self, name), name)
        if self.category not in CATEGORIES:
            raise PlanningError(f"unknown category {self.category!r}", "unknown_category")


@dataclass(frozen=True)
class SentText:
    """A planner text already sent ("sent"), claimed by a worker ("sending") or given up
    ("failed"). at: sent_at, or the claim time while in flight."""
    key: str
    kind: str
    appointment_id: int | str | None
    at: datetime
    announced_start: datetime | None = None
    state: str = "sent"

    def __post_init__(self):
        aware(self.at, "at")
        if self.state not in ("sent", "sending", "failed"):
            raise PlanningError(f"unknown state {self.state!r}", "unknown_state")


@dataclass(frozen=True)
class OneOff:
    """A text the planner does not own (a reply, a waitlist offer): counted, never changed."""
    at: datetime
    kind: str = "other"


@dataclass(frozen=True)
class Situation:
    patient_id: int | str
    phone: str | None
    sms_consent: bool
    opted_out: bool
    tz: str                       # the patient's zone: their home location's
    policy: Policy
    visits: tuple[Visit, ...] = ()
    history: tuple[SentText, ...] = ()
    one_offs: tuple[OneOff, ...] = ()

    def __post_init__(self):
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise PlanningError(f"unknown time zone {self.tz!r}", "unknown_time_zone") from exc


@dataclass(frozen=True)
class PlannedText:
    key: str
    kind: str
    appointment_id: int | str
    send_at: datetime               # planned: when; skipped: the rule's own time
    deadline: datetime              # useless from then on: the sender skips it
    priority: int
    body: str                       # "" when skipped
    status: str                     # "planned" | "skipped"
    reason: str | None
    announced_start: datetime       # the start it tells the patient (store it on the row)
    in_flight: bool = False         # a row being sent that may finish as it is


@dataclass(frozen=True)
class Task:
    appointment_id: int | str
    reason: str
    code: str = "instructions_undeliverable"


@dataclass(frozen=True)
class Plan:
    texts: tuple[PlannedText, ...]
    tasks: tuple[Task, ...]

    @property
    def wanted(self) -> dict[str, PlannedText]:
        """The texts that should go (or may finish going), by key."""
        return {t.key: t for t in self.texts if t.status == "planned"}

    def get(self, key: str) -> PlannedText | None:
        return next((t for t in self.texts if t.key == key), None)


def stamp(t: datetime) -> str:
    """A start in a key: UTC to the minute ("2027-06-08T16:00Z"), or in full if it has
    seconds (starts sit on a slot grid, so they do not)."""
    t = t.astimezone(UTC)
    return f"{t:%Y-%m-%dT%H:%M}Z" if not (t.second or t.microsecond) else t.isoformat()


def text_key(appointment_id, kind: str, start: datetime | None = None,
             told: datetime | None = None) -> str:
    """"{appt}:confirmation", "{appt}:cancelled", "{appt}:moved:{told}>{start}",
    "{appt}:instructions:{start}", "{appt}:reminder:{start}"."""
    if kind in ("confirmation", "cancelled"):
        return f"{appointment_id}:{kind}"
    if kind == "moved":
        return f"{appointment_id}:moved:{stamp(told)}>{stamp(start)}"
    return f"{appointment_id}:{kind}:{stamp(start)}"
