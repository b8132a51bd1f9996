"""Message planning: which texts an appointment gets, when, and with what words.

Public API (all pure; `now` is always passed in; instants are tz-aware, returned in UTC)
- plan(visit, clinic, policy, *, now, existing=(), overrides=None) -> list[PlannedText]
    at booking: confirmation (now); dosing: instructions (17:00 local the day before) and a
    reminder 2 h before; other sessions: a reminder at 10:00 local the day before.
- plan_move(old_visit, new_visit, clinic, policy, *, now, existing=(), overrides=None,
            old_clinic=None) -> one `moved` notice (now) plus the new visit's texts (no
            new confirmation: the notice is one). The caller voids the old plan first.
- plan_cancellation(visit, clinic, policy, *, now, existing=(), overrides=None)
    -> the single `cancelled` notice. The caller voids the visit's other texts.
`existing`: the patient's other texts already sent or still planned (not voided) in the
weeks concerned; they count against the caps and are never changed here.
`overrides`: template overrides ({kind} / {kind}.short) resolved by the caller for the
session type and location.

Every candidate text comes back, planned or skipped, so the front desk sees why a text
will not go. Skip reasons: "stale" (the session has started, or the text could only be
sent after its useful limit), "too_late" (its time passed before planning and catching up
is no longer useful), "quiet_hours", "cap_day", "cap_week", "merged_into:<kind>", and
any TemplateError code (text_too_long, text_not_gsm7, text_names_treatment, ...).
Skipped texts have an empty body and their nominal time as send_at.

Caps: per local calendar day and per ISO week (Monday to Sunday) in the clinic's zone; the
FCC exemption's "3 a week" is read as a calendar week, and ISO weeks need no setting.
dedupe_key = "{appointment_id}:{kind}:{nominal UTC isoformat}": the nominal time is
the rule's time before quiet-hours moves and merges, so re-planning gives the same key.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import DomainError
from .quiet_hours import fit_outside_quiet
from .templates import TemplateError, format_date, format_time, render
from .vocabulary import CATEGORIES, SMS_PROFILES as PROFILES

UTC = timezone.utc
# Priority decides which texts survive a cap. A cancellation stops a wasted trip and never
# shares a plan with another text. Instructions come next, above `moved`: they carry the
# fasting and ride-home rules, which no other text does, and they also state the (new)
# date and time, so a moved notice can merge into them losslessly, never the reverse.
# A reminder outranks the confirmation because it sits closer to the visit.
PRIORITY = {"cancelled": 50, "instructions": 40, "moved": 30, "reminder": 20,
            "confirmation": 10}
# Texts whose content is only "when and where": any text of the same visit carries that.
_ABSORBABLE = {"confirmation", "reminder", "moved"}
INSTRUCTIONS_AT = time(17, 0)            # local, the day before a dosing session
DAY_BEFORE_REMINDER_AT = time(10, 0)     # local, the day before other sessions
DOSING_REMINDER_LEAD = timedelta(hours=2)
REMINDER_MIN_LEAD = timedelta(minutes=30)  # a reminder later than this is useless
# Instructions must arrive before the fast begins, and at least this long before a visit
# with no fast (a ride home must be arranged); and an hour before the fast if it is long.
INSTRUCTIONS_MIN_LEAD = timedelta(hours=2)
FAST_NOTICE = timedelta(hours=1)
# Texts that are still worth sending late (at planning time) if before their deadline.
_CATCH_UP = {"confirmation", "instructions", "moved", "cancelled"}


class PlanningError(DomainError, ValueError):
    code = "planning_error"


def _aware(t: datetime, name: str) -> datetime:
    if not isinstance(t, datetime) or t.tzinfo is None or t.utcoffset() is None:
        raise PlanningError(f"{name} must be a timezone-aware datetime", "naive_datetime")
    return t.astimezone(UTC)


@dataclass(frozen=True)
class Clinic:
    display_name: str
    phone: str
    address: str
    tz: str
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)

    def __post_init__(self):  # a bad zone fails here, not in the middle of planning
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise PlanningError(f"unknown time zone {self.tz!r}", "unknown_time_zone") from exc

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)


@dataclass(frozen=True)
class Visit:
    appointment_id: str | int
    start: datetime
    category: str
    session_type_code: str = ""
    instructions: Mapping[str, object] = field(default_factory=dict)
    telehealth: bool = False

    def __post_init__(self):
        _aware(self.start, "start")
        if self.category not in CATEGORIES:
            raise PlanningError(f"unknown category {self.category!r}", "unknown_category")


@dataclass(frozen=True)
class Policy:
    """Caps per patient. `exemption` (FCC healthcare exemption) clamps them to 1 a day,
    3 a week and 160 GSM-7 characters, whatever else was configured."""
    profile: str = "standard"
    max_per_day: int = 3
    max_per_week: int = 10
    max_chars: int | None = None

    def __post_init__(self):
        if self.profile not in PROFILES or self.max_per_day < 0 or self.max_per_week < 0 \
                or (self.max_chars is not None and self.max_chars < 1):
            raise PlanningError(f"invalid policy {self!r}", "invalid_policy")

    @classmethod
    def exemption(cls) -> "Policy":
        return cls("exemption", 1, 3, 160)

    @property
    def limits(self) -> tuple[int, int, int | None]:
        if self.profile == "exemption":
            return (min(self.max_per_day, 1), min(self.max_per_week, 3),
                    min(self.max_chars or 160, 160))
        return self.max_per_day, self.max_per_week, self.max_chars


@dataclass(frozen=True)
class Existing:
    send_at: datetime
    kind: str
    appointment_id: str | int


@dataclass(frozen=True)
class PlannedText:
    kind: str
    send_at: datetime
    body: str
    priority: int
    dedupe_key: str
    status: str                 # "planned" | "skipped"
    reason: str | None = None
    deadline: datetime | None = None  # after this the text is useless: the sender skips it


@dataclass
class _Draft:
    kind: str
    nominal: datetime
    deadline: datetime          # the text must go out strictly before this
    send_at: datetime | None = None
    reason: str | None = None
    body: str = ""


def _day_before(start: datetime, wall: time, clinic: Clinic) -> datetime:
    local_day = start.astimezone(clinic.zone).date() - timedelta(days=1)
    return datetime.combine(local_day, wall, tzinfo=clinic.zone).astimezone(UTC)


def _fast(rules: Mapping[str, object]) -> timedelta:
    """The longest food or drink restriction before the session."""
    hours = max(float(rules.get(k) or 0) for k in
                ("no_solid_food_hours", "fasting_solids_hours", "clear_liquids_until_hours",
                 "no_food_hours"))
    minutes = float(rules.get("no_liquids_minutes") or 0)
    return max(timedelta(hours=hours), timedelta(minutes=minutes))


def _session_drafts(visit: Visit, clinic: Clinic) -> list[_Draft]:
    start = visit.start.astimezone(UTC)
    reminder_deadline = start - REMINDER_MIN_LEAD
    if visit.category != "dosing":
        return [_Draft("reminder", _day_before(start, DAY_BEFORE_REMINDER_AT, clinic),
                       reminder_deadline)]
    fast = _fast(visit.instructions)
    deadline = start - max(fast, INSTRUCTIONS_MIN_LEAD)
    # A fast longer than ~16 h starts before 17:00 the day before: give an hour's notice.
    nominal = min(_day_before(start, INSTRUCTIONS_AT, clinic), start - fast - FAST_NOTICE)
    return [_Draft("instructions", nominal, deadline),
            _Draft("reminder", start - DOSING_REMINDER_LEAD, reminder_deadline)]


def _time_draft(d: _Draft, start: datetime, clinic: Clinic, now: datetime) -> None:
    if now >= start or d.nominal >= d.deadline:
        d.reason = "stale"
        return
    due = d.nominal
    if due < now:
        if d.kind not in _CATCH_UP or now >= d.deadline:
            d.reason = "too_late"
            return
        due = now
    d.send_at = fit_outside_quiet(due, now=now, deadline=d.deadline, tz=clinic.zone,
                                  start=clinic.quiet_start, end=clinic.quiet_end)
    if d.send_at is None:
        d.reason = "quiet_hours"


def _values(visit: Visit, clinic: Clinic, old: Visit | None, old_clinic: Clinic) -> dict:
    local = visit.start.astimezone(clinic.zone)
    values = {"clinic": clinic.display_name, "phone": clinic.phone,
              "address": "online" if visit.telehealth else clinic.address,
              "date": format_date(local), "time": format_time(local)}
    if old is not None:
        old_local = old.start.astimezone(old_clinic.zone)
        values.update(old_date=format_date(old_local), old_time=format_time(old_local))
    return values


def _apply_caps(drafts: list[_Draft], existing: Iterable[Existing], clinic: Clinic,
                policy: Policy) -> None:
    max_day, max_week, _ = policy.limits

    def keys(t: datetime):
        local_day = t.astimezone(clinic.zone).date()
        return local_day, local_day.isocalendar()[:2]

    per_day, per_week = Counter(), Counter()
    for e in existing:
        day, week = keys(_aware(e.send_at, "existing send_at"))
        per_day[day] += 1
        per_week[week] += 1
    kept: list[_Draft] = []
    for d in sorted((d for d in drafts if d.reason is None), key=lambda d: -PRIORITY[d.kind]):
        day, week = keys(d.send_at)
        over_day, over_week = per_day[day] >= max_day, per_week[week] >= max_week
        if not (over_day or over_week):
            kept.append(d)
            per_day[day] += 1
            per_week[week] += 1
            continue
        host = next((k for k in kept if keys(k.send_at)[0] == day), None)
        if host is not None and d.kind in _ABSORBABLE:
            # The host already says when and where; it goes at the earlier of the two
            # times so no news reaches the patient later than it would have.
            host.send_at = min(host.send_at, d.send_at)
            d.reason = f"merged_into:{host.kind}"
        else:
            d.reason = "cap_day" if over_day else "cap_week"


def _finish(drafts: list[_Draft], visit: Visit, clinic: Clinic, policy: Policy, now: datetime,
            existing: Iterable[Existing], overrides: Mapping[str, str] | None,
            old: Visit | None = None, old_clinic: Clinic | None = None) -> list[PlannedText]:
    start = visit.start.astimezone(UTC)
    values = _values(visit, clinic, old, old_clinic or clinic)
    _, _, max_chars = policy.limits
    for d in drafts:
        _time_draft(d, start, clinic, now)
        if d.reason is None:
            try:
                d.body = render(d.kind, values, prep_rules=visit.instructions,
                                overrides=overrides, max_chars=max_chars,
                                exemption=policy.profile == "exemption")
            except TemplateError as exc:
                d.reason = exc.code
    _apply_caps(drafts, existing, clinic, policy)
    out = [PlannedText(
        kind=d.kind,
        send_at=d.send_at if d.reason is None else d.nominal,
        body=d.body if d.reason is None else "",
        priority=PRIORITY[d.kind],
        dedupe_key=f"{visit.appointment_id}:{d.kind}:{d.nominal.isoformat()}",
        status="planned" if d.reason is None else "skipped",
        reason=d.reason,
        deadline=d.deadline,
    ) for d in drafts]
    return sorted(out, key=lambda t: (t.send_at, -t.priority))


def plan(visit: Visit, clinic: Clinic, policy: Policy, *, now: datetime,
         existing: Iterable[Existing] = (), overrides: Mapping[str, str] | None = None
         ) -> list[PlannedText]:
    now_utc = _aware(now, "now")
    drafts = [_Draft("confirmation", now_utc, visit.start.astimezone(UTC))]
    drafts += _session_drafts(visit, clinic)
    return _finish(drafts, visit, clinic, policy, now_utc, existing, overrides)


def plan_move(old_visit: Visit, new_visit: Visit, clinic: Clinic, policy: Policy, *,
              now: datetime, existing: Iterable[Existing] = (),
              overrides: Mapping[str, str] | None = None,
              old_clinic: Clinic | None = None) -> list[PlannedText]:
    now_utc = _aware(now, "now")
    drafts = [_Draft("moved", now_utc, new_visit.start.astimezone(UTC))]
    drafts += _session_drafts(new_visit, clinic)
    return _finish(drafts, new_visit, clinic, policy, now_utc, existing, overrides,
                   old=old_visit, old_clinic=old_clinic)


def plan_cancellation(visit: Visit, clinic: Clinic, policy: Policy, *, now: datetime,
                      existing: Iterable[Existing] = (),
                      overrides: Mapping[str, str] | None = None) -> list[PlannedText]:
    now_utc = _aware(now, "now")
    drafts = [_Draft("cancelled", now_utc, visit.start.astimezone(UTC))]
    return _finish(drafts, visit, clinic, policy, now_utc, existing, overrides)
