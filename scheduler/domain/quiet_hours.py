"""Quiet hours: no text is sent between quiet_start and quiet_end in the clinic's local time.

Public API
- is_quiet(instant, tz, start, end) -> bool
- fit_outside_quiet(due, *, now, deadline, tz, start, end) -> datetime | None

The window is [start, end) in local wall-clock time and may cross midnight (21:00-08:00);
start == end means no quiet hours. A text due inside it moves to the nearest allowed time
that is still useful, earlier or later:
- earlier: just before quiet hours began (MOVE_EARLIER_MARGIN before start, so a dispatcher
  running a few minutes late still delivers in time), or now if that is later and allowed;
- later: the end of the quiet hours;
and must be >= now and < deadline (the caller's "still useful" limit, e.g. the session
start). The nearest of the two wins (ties go earlier): a 07:00 reminder for a 09:00
session goes out at 08:00, not the evening before, while an evening text due at 21:30
goes out at 20:45 rather than the next morning. None when neither is possible: the caller
skips the text with reason "quiet_hours".

Wall times on DST change days use their first occurrence; quiet hours never fall in the
US 02:00 gap in practice, and a gap time resolves to the instant zoneinfo gives it.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

UTC = timezone.utc
MOVE_EARLIER_MARGIN = timedelta(minutes=15)
_DAY = timedelta(days=1)


def _zone(tz: tzinfo | str) -> tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def _aware(t: datetime, name: str) -> None:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware instant, got {t!r}")


def _at(day: date, wall: time, tz: tzinfo) -> datetime:
    return datetime.combine(day, wall, tzinfo=tz).astimezone(UTC)


def is_quiet(instant: datetime, tz: tzinfo | str, start: time, end: time) -> bool:
    _aware(instant, "instant")
    wall = instant.astimezone(_zone(tz)).time()
    if start == end:
        return False
    if start < end:
        return start <= wall < end
    return wall >= start or wall < end


def _quiet_period(instant: datetime, tz: tzinfo, start: time,
                  end: time) -> tuple[datetime, datetime]:
    """UTC [begin, finish) of the quiet period containing instant (which must be quiet)."""
    local = instant.astimezone(tz)
    day, wall = local.date(), local.time()
    if start < end:
        return _at(day, start, tz), _at(day, end, tz)
    if wall >= start:
        return _at(day, start, tz), _at(day + _DAY, end, tz)
    return _at(day - _DAY, start, tz), _at(day, end, tz)


def fit_outside_quiet(due: datetime, *, now: datetime, deadline: datetime,
                      tz: tzinfo | str, start: time, end: time) -> datetime | None:
    """due itself when allowed (and in [now, deadline)), else the nearest allowed time per
    the module rule, else None."""
    for value, name in ((due, "due"), (now, "now"), (deadline, "deadline")):
        _aware(value, name)
    zone = _zone(tz)
    due = due.astimezone(UTC)

    def usable(t: datetime) -> bool:
        return now <= t < deadline and not is_quiet(t, zone, start, end)

    if not is_quiet(due, zone, start, end):
        return due if now <= due < deadline else None
    begin, finish = _quiet_period(due, zone, start, end)
    earlier = begin - MOVE_EARLIER_MARGIN
    if earlier < now < begin:
        earlier = now.astimezone(UTC)
    candidates = [t for t in (earlier, finish) if usable(t)]
    if not candidates:
        return None
    return min(candidates, key=lambda t: (abs(t - due), t))
