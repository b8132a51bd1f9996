"""How much work expanding a calendar's recurrence rules would be, known before doing it.

recurring_ical_events asks dateutil for ``rule.between(start, end)``, which builds the whole
list: a ``FREQ=SECONDLY`` rule over a 90-day window is ~7.9 million datetimes (minutes of
CPU) before the first one reaches our occurrence cap. dateutil walks a rule from its DTSTART
one FREQ x INTERVAL step at a time, trying every BYHOUR/BYMINUTE/BYSECOND value finer than
FREQ (and every day of the period when a day-level BY part is present), so that product,
from DTSTART to the end of the window (or UNTIL), bounds its work. A calendar whose rules
add up to more than the budget is refused unread.
"""
from __future__ import annotations

from datetime import date, datetime, timezone

UTC = timezone.utc
DAY = 86_400
UNIT_SECONDS = {"SECONDLY": 1, "MINUTELY": 60, "HOURLY": 3600, "DAILY": DAY, "WEEKLY": 7 * DAY,
                "MONTHLY": 31 * DAY, "YEARLY": 366 * DAY}
TIME_PARTS = {"BYHOUR": 3600, "BYMINUTE": 60, "BYSECOND": 1}
DAY_PARTS = ("BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYMONTH", "BYSETPOS")


def expansion_steps(calendar, window_end: datetime) -> int:
    """An upper bound on the candidate instants dateutil visits for every RRULE in ``calendar``."""
    total = 0
    for event in calendar.walk("VEVENT"):
        start = event.get("DTSTART")
        rules = event.get("RRULE")
        if start is None or rules is None:
            continue
        for rule in rules if isinstance(rules, list) else [rules]:
            total += _rule_steps(rule, _utc(start.dt), window_end)
    return total


def _rule_steps(rule, start: datetime, window_end: datetime) -> int:
    unit = UNIT_SECONDS.get(str(_first(rule, "FREQ", "")).upper())
    if unit is None:
        return 0  # not a rule dateutil can expand: the expansion reports it
    try:
        interval = max(1, int(_first(rule, "INTERVAL", 1)))
        count = int(_first(rule, "COUNT", 0))
    except (TypeError, ValueError):
        return 0
    stop = window_end
    if rule.get("UNTIL"):
        stop = min(stop, _utc(_first(rule, "UNTIL", window_end)))
    steps = max(0.0, (stop - start).total_seconds()) // (unit * interval) + 1
    per_step = 1
    for part, seconds in TIME_PARTS.items():
        if seconds < unit and rule.get(part):
            per_step *= len(rule[part])
    if unit > DAY and any(rule.get(part) for part in DAY_PARTS):
        per_step *= unit // DAY
    if count and not any(rule.get(part) for part in (*TIME_PARTS, *DAY_PARTS)):
        steps = min(steps, count)  # nothing filtered: dateutil stops after COUNT steps
    return int(steps * per_step)


def _first(rule, key, default):
    value = rule.get(key)
    if isinstance(value, list):
        return value[0] if value else default
    return default if value is None else value


def _utc(value) -> datetime:
    """Close enough for counting steps: floating and all-day values are read as UTC."""
    if not isinstance(value, datetime):
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        raise TypeError("not a date")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
