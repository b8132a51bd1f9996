"""Local wall-clock time at a location, mapped onto UTC instants.

Rules are kept in a location's wall-clock time; everything downstream works on UTC
instants. The two DST irregularities are settled here, once:
- a wall time in the spring-forward gap does not exist: local_to_utc gives None, a span
  boundary moves to the first instant after the gap, and the grid skips it;
- a wall time in the fall-back hour exists twice: the first occurrence (fold=0) is used,
  so the same wall-clock slot is never offered twice.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo

from .intervals import UTC, Interval, as_utc

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MIDNIGHT = time(0)
# "24:00", the midnight that ends a day: a datetime.time cannot hold it, so its last
# microsecond stands for it (as stored in time columns). It is only ever an end.
END_OF_DAY = time.max
_END_OF_DAY_FROM = time(23, 59, 59)  # a database may have dropped the microseconds
_ONE_DAY = timedelta(days=1)
# datetime's resolution: the last instant of a half-open window is end - 1 µs.
_RESOLUTION = timedelta(microseconds=1)


def weekday_code(d: date) -> str:
    return WEEKDAYS[d.weekday()]


def is_end_of_day(wall: time) -> bool:
    return wall >= _END_OF_DAY_FROM


def parse_wall_time(text: object, *, end: bool = False) -> time:
    """"HH:MM" (00:00 to 23:59) as a wall-clock time. "24:00" is the end of the day
    (END_OF_DAY) and is accepted only when the time ends a span (``end=True``).
    Raises ValueError with a sentence fit for the caller's error message."""
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":" or not text.isascii() \
            or not (text[:2].isdigit() and text[3:].isdigit()):
        raise ValueError("Expected a time HH:MM (00:00 to 24:00).")
    hours, minutes = int(text[:2]), int(text[3:])
    if (hours, minutes) == (24, 0):
        if not end:
            raise ValueError("24:00 only ends a span; a start is 00:00 to 23:59.")
        return END_OF_DAY
    if hours > 23 or minutes > 59:
        raise ValueError("Expected a time HH:MM (00:00 to 24:00).")
    return time(hours, minutes)


def format_wall_time(wall: time) -> str:
    return "24:00" if is_end_of_day(wall) else f"{wall.hour:02d}:{wall.minute:02d}"


def _check_wall(wall: time) -> None:
    if wall.tzinfo is not None:
        raise ValueError(f"wall-clock time {wall!r} must be naive; pass the zone separately")


def to_local(t: datetime, tz: tzinfo) -> datetime:
    return as_utc(t).astimezone(tz)


def local_date_of(t: datetime, tz: tzinfo) -> date:
    return to_local(t, tz).date()


def local_to_utc(day: date, wall: time, tz: tzinfo) -> datetime | None:
    """The UTC instant of `wall` on local date `day`, the first one if it happens twice;
    None if it never happens (spring-forward gap)."""
    _check_wall(wall)
    naive = datetime.combine(day, wall).replace(fold=0)
    utc = naive.replace(tzinfo=tz).astimezone(UTC)
    # zoneinfo resolves a nonexistent time silently; only the round trip reveals it.
    if utc.astimezone(tz).replace(tzinfo=None) != naive:
        return None
    return utc


def _first_instant_at_or_after(day: date, wall: time, tz: tzinfo) -> datetime:
    """Like local_to_utc, but a wall time inside a gap maps to the end of the gap."""
    utc = local_to_utc(day, wall, tz)
    if utc is not None:
        return utc
    naive = datetime.combine(day, wall)
    # In a gap, fold=0 applies the offset from before the change and lands after it;
    # fold=1 applies the later offset and lands before it. Bisect for the change itself,
    # in microseconds because historical offsets are not whole minutes.
    before = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    after = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    lo, hi = 0, (after - before) // _RESOLUTION
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if (before + mid * _RESOLUTION).astimezone(tz).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid
    return before + hi * _RESOLUTION


def local_span(day: date, start: time, end: time, tz: tzinfo) -> Interval | None:
    """Wall-clock range [start, end) on local date `day`, as a UTC interval.

    end == 00:00 or END_OF_DAY (24:00) means the midnight that ends the day. Otherwise
    end <= start gives None.
    Bounds in a spring-forward gap move to the end of the gap (01:00-03:00 on the change
    day is one real hour); bounds in the repeated hour use its first occurrence. None when
    nothing of the range exists (e.g. 02:15-02:45 inside the gap).
    """
    _check_wall(start)
    _check_wall(end)
    if end == MIDNIGHT or is_end_of_day(end):
        hi = _first_instant_at_or_after(day + _ONE_DAY, MIDNIGHT, tz)
    elif end <= start:
        return None
    else:
        hi = _first_instant_at_or_after(day, end, tz)
    lo = _first_instant_at_or_after(day, start, tz)
    return Interval(lo, hi) if lo < hi else None


def local_day_window(day: date, tz: tzinfo) -> Interval:
    """[local midnight, next local midnight) in UTC: 23 h or 25 h on DST change days."""
    window = local_span(day, MIDNIGHT, MIDNIGHT, tz)
    if window is None:
        # Only zones that skipped a whole date (Pacific/Apia on 2011-12-30) get here.
        raise ValueError(f"local date {day} does not exist in {tz}")
    return window


def local_dates(window: Interval, tz: tzinfo) -> list[date]:
    """Every local date that has an instant inside the window, in order."""
    first = local_date_of(window.start, tz)
    last = local_date_of(window.end - _RESOLUTION, tz)
    days = [first + k * _ONE_DAY for k in range((last - first).days + 1)]
    if len(days) <= 2:
        return days  # each holds an endpoint, so it exists
    return [d for d in days if local_span(d, MIDNIGHT, MIDNIGHT, tz) is not None]


def grid_starts(window: Interval, tz: tzinfo, step_minutes: int) -> list[datetime]:
    """UTC instants in [window.start, window.end) whose local wall time is a whole number of
    steps after local midnight, counted afresh each local date.

    Nonexistent wall times are skipped and repeated ones appear once (first occurrence),
    so wall-clock slots stay aligned across DST and are never offered twice.
    """
    if not isinstance(step_minutes, int) or isinstance(step_minutes, bool) or step_minutes <= 0:
        raise ValueError(f"step_minutes must be a positive int, got {step_minutes!r}")
    starts = set()
    step = timedelta(minutes=step_minutes)
    for day in local_dates(window, tz):
        midnight = local_to_utc(day, time(0), tz)
        following = local_to_utc(day + timedelta(days=1), time(0), tz)
        if midnight is not None and following is not None and following - midnight == timedelta(days=1):
            # No offset change this day (the usual case): every step is plain arithmetic.
            t = midnight
            while t < following:
                if window.start <= t < window.end:
                    starts.add(t)
                t += step
            continue
        for minute in range(0, 24 * 60, step_minutes):  # a DST day: check each wall time
            t = local_to_utc(day, time(minute // 60, minute % 60), tz)
            if t is not None and window.start <= t < window.end:
                starts.add(t)
    return sorted(starts)
