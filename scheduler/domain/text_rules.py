"""When a text is due and until when it is useful: the timing rules every planner of texts
shares (planner.py, and reminders.py until the outbox stops calling it), and the SMS
policy of a patient (profile, caps, quiet hours).

Public API (pure; instants tz-aware, returned in UTC)
- Policy(profile, max_per_day, max_per_week, max_chars, quiet_start, quiet_end);
  Policy.exemption(); policy.limits -> (per day, per week, max chars)
- session_windows(start, category, rules, tz) -> [(kind, nominal, deadline)]: dosing:
  instructions at 17:00 local the day before (earlier when a long fast begins before
  then) and a reminder 2 h before; other sessions: a reminder at 10:00 local the day before.
- fit_send_time(kind, nominal, deadline, start, now, tz, quiet_start, quiet_end)
    -> (send_at, None) or (None, reason). The rule's time moved out of the quiet hours
    (quiet_hours.py) when that is still ahead; else, for kinds in CATCH_UP, now (moved out
    of the quiet hours) while before the deadline. Reasons: "stale" (the session has
    started, or the rule's time is past its useful limit), "too_late" (its time passed
    and catching up is no longer useful, or never is for reminders), "quiet_hours".
- local_wall(day_instant, wall, tz, days=0): `wall` on the local date of day_instant (+days).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone, tzinfo
from typing import Mapping

from .errors import DomainError
from .quiet_hours import fit_outside_quiet

UTC = timezone.utc
CATEGORIES = ("dosing", "integration", "consultation")
PROFILES = ("standard", "exemption")
INSTRUCTIONS_AT = time(17, 0)            # local, the day before a dosing session
DAY_BEFORE_REMINDER_AT = time(10, 0)     # local, the day before other sessions
DOSING_REMINDER_LEAD = timedelta(hours=2)
REMINDER_MIN_LEAD = timedelta(minutes=30)  # a reminder later than this is useless
# Instructions must arrive before the fast begins, and at least this long before a visit
# with no fast (a ride home must be arranged); and an hour before the fast if it is long.
INSTRUCTIONS_MIN_LEAD = timedelta(hours=2)
FAST_NOTICE = timedelta(hours=1)
_DAY = timedelta(days=1)
# Texts still worth sending late (at planning time) while before their deadline.
CATCH_UP = frozenset({"confirmation", "instructions", "moved", "cancelled"})


class PlanningError(DomainError, ValueError):
    code = "planning_error"


def aware(t: datetime, name: str) -> datetime:
    if not isinstance(t, datetime) or t.tzinfo is None or t.utcoffset() is None:
        raise PlanningError(f"{name} must be a timezone-aware datetime", "naive_datetime")
    return t.astimezone(UTC)


@dataclass(frozen=True)
class Policy:
    """A patient's SMS policy (their home location's). `exemption` (FCC healthcare
    exemption) clamps the caps to 1 a day, 3 a week and 160 GSM-7 characters, whatever
    else was configured. Quiet hours [quiet_start, quiet_end) are local wall-clock times."""
    profile: str = "standard"
    max_per_day: int = 3
    max_per_week: int = 10
    max_chars: int | None = None
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)

    def __post_init__(self):
        if self.profile not in PROFILES or self.max_per_day < 0 or self.max_per_week < 0 \
                or (self.max_chars is not None and self.max_chars < 1) \
                or not isinstance(self.quiet_start, time) or not isinstance(self.quiet_end, time):
            raise PlanningError(f"invalid policy {self!r}", "invalid_policy")

    @classmethod
    def exemption(cls, **quiet) -> "Policy":
        return cls("exemption", 1, 3, 160, **quiet)

    @property
    def limits(self) -> tuple[int, int, int | None]:
        if self.profile == "exemption":
            return (min(self.max_per_day, 1), min(self.max_per_week, 3),
                    min(self.max_chars or 160, 160))
        return self.max_per_day, self.max_per_week, self.max_chars


def local_wall(instant: datetime, wall: time, tz: tzinfo, days: int = 0) -> datetime:
    local_day = instant.astimezone(tz).date() + timedelta(days=days)
    return datetime.combine(local_day, wall, tzinfo=tz).astimezone(UTC)


def fast(rules: Mapping[str, object]) -> timedelta:
    """The longest food or drink restriction before the session."""
    hours = max(float(rules.get(k) or 0) for k in
                ("no_solid_food_hours", "fasting_solids_hours", "clear_liquids_until_hours",
                 "no_food_hours"))
    minutes = float(rules.get("no_liquids_minutes") or 0)
    return max(timedelta(hours=hours), timedelta(minutes=minutes))


def session_windows(start: datetime, category: str, rules: Mapping[str, object],
                    tz: tzinfo) -> list[tuple[str, datetime, datetime]]:
    start = start.astimezone(UTC)
    reminder_deadline = start - REMINDER_MIN_LEAD
    if category != "dosing":
        return [("reminder", local_wall(start, DAY_BEFORE_REMINDER_AT, tz, -1),
                 reminder_deadline)]
    fasting = fast(rules)
    deadline = start - max(fasting, INSTRUCTIONS_MIN_LEAD)
    # A fast longer than ~16 h starts before 17:00 the day before: give an hour's notice.
    nominal = min(local_wall(start, INSTRUCTIONS_AT, tz, -1), start - fasting - FAST_NOTICE)
    return [("instructions", nominal, deadline),
            ("reminder", start - DOSING_REMINDER_LEAD, reminder_deadline)]


def fit_send_time(kind: str, nominal: datetime, deadline: datetime, start: datetime,
                  now: datetime, tz: tzinfo, quiet_start: time, quiet_end: time
                  ) -> tuple[datetime | None, str | None]:
    if now >= start or nominal >= deadline:
        return None, "stale"
    # The rule's own time, out of the quiet hours as if planned long ago: re-planning
    # between 07:00 and 08:00 keeps a 07:00 reminder moved to 08:00 (not "too_late").
    ideal = fit_outside_quiet(nominal, now=nominal - _DAY, deadline=deadline, tz=tz,
                              start=quiet_start, end=quiet_end)
    if ideal is not None and ideal >= now:
        return ideal, None
    if kind in CATCH_UP and now < deadline:
        late = fit_outside_quiet(now, now=now, deadline=deadline, tz=tz, start=quiet_start,
                                 end=quiet_end)
        return (late, None) if late is not None else (None, "quiet_hours")
    return None, "too_late" if ideal is not None else "quiet_hours"
