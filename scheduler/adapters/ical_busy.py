"""Busy time in iCalendar data: events and their recurrences as busy periods in UTC.

Recurrences are always expanded here, client-side, with ``recurring_ical_events`` in
each event's own zone: Radicale's server-side expansion is wrong across DST for some
VTIMEZONE styles, so servers are only asked for the raw objects (busy_import.py fetches
them). Expansion is bounded twice: rules too costly to list are refused before dateutil
lists them (recurrence_cost.py), and a calendar stops at ``max_occurrences``. No message
quotes the data: it came from a remote server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
import recurring_ical_events

from .recurrence_cost import expansion_steps

UTC = timezone.utc
# Widens every query so floating/all-day events (up to +-14h off UTC) and a server's
# off-by-an-hour DST mistakes cannot drop an event that touches the window.
WINDOW_PAD = timedelta(days=1)
# A feed expanding to more than this in one window is treated as bad data
# (e.g. FREQ=MINUTELY), rather than exhausting memory.
MAX_OCCURRENCES = 20_000
# Rule steps dateutil may walk per occurrence allowed (recurrence_cost.py): room for daily
# rules since 1970 or hourly ones since 2019, never for a MINUTELY or SECONDLY rule over the window.
STEPS_PER_OCCURRENCE = 5


class CalendarDataError(Exception):
    """The calendar was reached but its content cannot be used."""

    code = "calendar_bad_data"

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class TooManyOccurrences(CalendarDataError):
    code = "too_many_occurrences"


@dataclass(frozen=True)
class BusyPeriod:
    start: datetime  # aware, UTC
    end: datetime  # aware, UTC
    uid: str
    summary_hidden: bool = True  # titles of private events are never carried


def parse_busy(
    ics_bytes: bytes,
    window_start: datetime,
    window_end: datetime,
    default_tz: str,
    ignore_uid_suffix: str | None = None,
    *,
    max_occurrences: int = MAX_OCCURRENCES,
) -> list[BusyPeriod]:
    """Busy blocks overlapping [window_start, window_end), sorted, never clipped.

    TZIDs that name an IANA zone are resolved with zoneinfo (icalendar's choice), so a
    stale or server-generated VTIMEZONE cannot shift them; other TZIDs (e.g. Outlook's
    custom ones) use the VTIMEZONE in the data; unknown ones count as floating.
    """
    return parse_busy_all([ics_bytes], window_start, window_end, default_tz, ignore_uid_suffix,
                          max_occurrences=max_occurrences)


def parse_busy_all(objects, window_start: datetime, window_end: datetime, default_tz: str,
                   ignore_uid_suffix: str | None = None, *,
                   max_occurrences: int = MAX_OCCURRENCES) -> list[BusyPeriod]:
    """``parse_busy`` over several iCalendar objects (a CalDAV calendar's), with one
    ``max_occurrences`` for all of them: TooManyOccurrences beyond it."""
    if window_start.tzinfo is None or window_end.tzinfo is None:
        raise ValueError("window_start and window_end must be timezone-aware")
    try:
        zone = ZoneInfo(default_tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {default_tz!r}") from exc
    window_start, window_end = window_start.astimezone(UTC), window_end.astimezone(UTC)
    budget = [max_occurrences, max_occurrences]  # left, allowed
    steps, step_budget = 0, STEPS_PER_OCCURRENCE * max_occurrences
    blocks: list[BusyPeriod] = []
    for ics_bytes in objects:
        calendar = _parse_calendar(ics_bytes)
        try:
            steps += expansion_steps(calendar, window_end + WINDOW_PAD)
            if steps > step_budget:  # checked before expanding: dateutil would build it all first
                raise TooManyOccurrences(f"the calendar's recurrence rules would take more than {step_budget} "
                                         f"steps to expand (at most {max_occurrences} occurrences are read)")
            query = recurring_ical_events.of(calendar)
            blocks += _expand(query, window_start, window_end, zone, ignore_uid_suffix, budget)
        except CalendarDataError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError) as exc:
            # recurring_ical_events.InvalidCalendar is a ValueError. Its text may quote the
            # remote data, so the message is ours.
            raise CalendarDataError("cannot expand the calendar's events or recurrence rules") from exc
    return sorted(blocks, key=lambda b: (b.start, b.end, b.uid))


def _parse_calendar(ics_bytes: bytes) -> icalendar.Calendar:
    if not ics_bytes or not ics_bytes.strip():
        raise CalendarDataError("empty calendar data")
    try:
        calendar = icalendar.Calendar.from_ical(ics_bytes)
    except (ValueError, TypeError, KeyError, IndexError, UnicodeDecodeError) as exc:
        raise CalendarDataError("not an iCalendar file") from exc
    if calendar.name != "VCALENDAR":
        raise CalendarDataError("not an iCalendar file (no VCALENDAR)")
    return calendar


def _expand(query, window_start, window_end, zone, ignore_uid_suffix, budget: list[int]) -> list[BusyPeriod]:
    blocks: list[BusyPeriod] = []
    span_start, span_end = window_start - WINDOW_PAD, window_end + WINDOW_PAD
    # Per series, so the cap stops a calendar of very many events or RDATEs early; a runaway
    # RRULE was stopped before (recurrence_cost), as each series' rule is expanded whole.
    for series in query.series:
        for occurrence in series.between(span_start, span_end):
            budget[0] -= 1
            if budget[0] < 0:
                raise TooManyOccurrences(f"the calendar expands to more than {budget[1]} occurrences "
                                         "in the sync window")
            block = _to_block(occurrence, zone, ignore_uid_suffix)
            if block and block.start < window_end and block.end > window_start:
                blocks.append(block)
    return blocks


def _to_block(occurrence, zone: ZoneInfo, ignore_uid_suffix: str | None) -> BusyPeriod | None:
    component = occurrence.as_component(False)
    uid = str(component.get("UID", ""))
    if ignore_uid_suffix and uid.endswith(ignore_uid_suffix):
        return None
    if str(component.get("STATUS", "")).upper() == "CANCELLED":
        return None
    if str(component.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
        return None
    start, end = _to_utc(occurrence.start, zone), _to_utc(occurrence.end, zone)
    if end <= start:
        return None  # a zero-length reminder blocks nothing
    return BusyPeriod(start=start, end=end, uid=uid)


def _to_utc(value: date | datetime, zone: ZoneInfo) -> datetime:
    """All-day dates are local midnights and floating times local wall clock, in zone."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)
