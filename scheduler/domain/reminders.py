"""Message planning per appointment (legacy): which texts an appointment gets, when, and
with what words. Superseded by planner.py (a patient's whole plan); kept until the outbox
calls the planner. The timing rules and the policy live in text_rules.py, shared with it.

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
from datetime import datetime, time
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .templates import TemplateError, format_date, format_time, render
from .text_rules import (
    CATEGORIES, UTC, PlanningError, Policy, aware as _aware, fit_send_time, session_windows,
)

__all__ = ["PRIORITY", "Clinic", "Existing", "PlannedText", "PlanningError", "Policy",
           "Visit", "plan", "plan_cancellation", "plan_move"]

# Priority decides which texts survive a cap. A cancellation stops a wasted trip and never
# shares a plan with another text. Instructions come next, above `moved`: they carry the
# fasting and ride-home rules, which no other text does, and they also state the (new)
# date and time, so a moved notice can merge into them losslessly, never the reverse.
# A reminder outranks the confirmation because it sits closer to the visit.
PRIORITY = {"cancelled": 50, "instructions": 40, "moved": 30, "reminder": 20,
            "confirmation": 10}
# Texts whose content is only "when and where": any text of the same visit carries that.
_ABSORBABLE = {"confirmation", "reminder", "moved"}


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


def _session_drafts(visit: Visit, clinic: Clinic) -> list[_Draft]:
    return [_Draft(kind, nominal, deadline) for kind, nominal, deadline
            in session_windows(visit.start, visit.category, visit.instructions, clinic.zone)]


def _time_draft(d: _Draft, start: datetime, clinic: Clinic, now: datetime) -> None:
    d.send_at, d.reason = fit_send_time(d.kind, d.nominal, d.deadline, start, now, clinic.zone,
                                        clinic.quiet_start, clinic.quiet_end)


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
