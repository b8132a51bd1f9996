"""iCalendar (RFC 5545) feeds and VFREEBUSY, rendered from plain values.

Output is a pure function of the input (DTSTAMP is the event's LAST-MODIFIED, events
are sorted), so an unchanged schedule renders byte-identical and its ETag stays put:
that is what makes If-None-Match polling cheap.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, FreeBusy, Timezone, vPeriod

UTC = timezone.utc
PRODID = "-//Ketamine Clinic Scheduler//Schedule Feed 1.0//EN"
STATUSES = frozenset({"CONFIRMED", "CANCELLED", "TENTATIVE"})
# VTIMEZONE transitions are emitted for this span around the events, not 1970-2038.
_DEFAULT_YEARS = (2020, 2040)
_END_VCALENDAR = b"END:VCALENDAR\r\n"


@dataclass(frozen=True)
class FeedEvent:
    uid: str
    start: datetime  # aware (UTC)
    end: datetime  # aware (UTC)
    tz: str  # IANA zone the event is shown in, e.g. the location's
    summary: str
    location: str | None
    description: str | None
    sequence: int
    status: Literal["CONFIRMED", "CANCELLED", "TENTATIVE"]
    last_modified: datetime  # aware
    transparent: bool = False


def render_feed(name: str, events: Iterable[FeedEvent], tzids: Iterable[str]) -> bytes:
    """A VCALENDAR with one VEVENT per event and a VTIMEZONE per zone in use.

    ``tzids`` adds zones beyond those the events use (e.g. the location's zone for an
    empty feed).
    """
    events = sorted(events, key=lambda e: (e.start, e.uid))
    for event in events:
        _validate(event)
    zones = {event.tz for event in events} | set(tzids)
    years = _year_span(events)

    calendar = _calendar_header()
    calendar.add("x-wr-calname", name)
    for tzid in sorted(zones):
        calendar.add_component(_vtimezone(tzid, *years))
    head = calendar.to_ical()
    if not head.endswith(_END_VCALENDAR):  # icalendar changed how it ends a calendar
        raise RuntimeError("unexpected VCALENDAR serialisation")
    # Each VEVENT is serialised by icalendar once and reused while the event is
    # unchanged: icalendar needs ~0.2 ms per event, and feeds are polled often.
    return b"".join(
        [head[: -len(_END_VCALENDAR)], *map(_vevent_ical, events), _END_VCALENDAR]
    )


def etag_for(body: bytes) -> str:
    """A strong ETag: the quoted SHA-256 of the exact bytes served."""
    return '"' + hashlib.sha256(body).hexdigest() + '"'


def render_freebusy(
    organizer_name: str,
    window_start: datetime,
    window_end: datetime,
    busy: list[tuple[datetime, datetime]],
    *,
    organizer_uri: str | None = None,
    dtstamp: datetime | None = None,
) -> bytes:
    """A VCALENDAR with one VFREEBUSY; busy periods merged, clipped, in UTC.

    ``dtstamp`` defaults to ``window_start`` so the output stays deterministic
    (no hidden clock); pass the current time when you have one.
    """
    start, end = _utc(window_start), _utc(window_end)
    if end <= start:
        raise ValueError("window_end must be after window_start")
    calendar = _calendar_header()
    calendar.add("x-wr-calname", organizer_name)
    freebusy = FreeBusy()
    uid_seed = f"{organizer_name}|{start.isoformat()}|{end.isoformat()}"
    freebusy.add("uid", hashlib.sha256(uid_seed.encode()).hexdigest()[:32] + "@freebusy")
    freebusy.add("dtstamp", _utc(dtstamp) if dtstamp else start)
    freebusy.add("dtstart", start)
    freebusy.add("dtend", end)
    if organizer_uri:
        freebusy.add("organizer", organizer_uri, parameters={"CN": organizer_name})
    for period_start, period_end in _merge(busy, start, end):
        freebusy.add("freebusy", vPeriod((period_start, period_end)), parameters={"FBTYPE": "BUSY"})
    calendar.add_component(freebusy)
    return calendar.to_ical()


# -- helpers -------------------------------------------------------------------------
def _calendar_header() -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    return calendar


@lru_cache(maxsize=50_000)
def _vevent_ical(event: FeedEvent) -> bytes:
    return _vevent(event, ZoneInfo(event.tz)).to_ical()


def _vevent(event: FeedEvent, zone: ZoneInfo) -> Event:
    vevent = Event()
    vevent.add("uid", event.uid)
    # DTSTAMP = LAST-MODIFIED keeps the body stable between polls (RFC 5545 allows
    # any UTC time for METHOD:PUBLISH; clients compare SEQUENCE, then DTSTAMP).
    vevent.add("dtstamp", _utc(event.last_modified))
    vevent.add("dtstart", _local_or_utc(event.start, zone))
    vevent.add("dtend", _local_or_utc(event.end, zone))
    vevent.add("summary", event.summary)
    if event.location:
        vevent.add("location", event.location)
    if event.description:
        vevent.add("description", event.description)
    vevent.add("sequence", event.sequence)
    vevent.add("status", event.status)
    vevent.add("last-modified", _utc(event.last_modified))
    vevent.add("transp", "TRANSPARENT" if event.transparent else "OPAQUE")
    return vevent


def _local_or_utc(value: datetime, zone: ZoneInfo) -> datetime:
    local = value.astimezone(zone)
    # A TZID wall time in the repeated hour means its first occurrence (RFC 5545
    # 3.3.5), so the second one (fold=1) can only be written in UTC.
    return local.astimezone(UTC) if local.fold else local


def _validate(event: FeedEvent) -> None:
    for field in ("start", "end", "last_modified"):
        value = getattr(event, field)
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"FeedEvent {event.uid}: {field} must be an aware datetime")
    if event.end <= event.start:
        raise ValueError(f"FeedEvent {event.uid}: end must be after start")
    if event.status not in STATUSES:
        raise ValueError(f"FeedEvent {event.uid}: status {event.status!r} not in {sorted(STATUSES)}")
    if event.sequence < 0:
        raise ValueError(f"FeedEvent {event.uid}: sequence must be >= 0")


def _year_span(events: list[FeedEvent]) -> tuple[int, int]:
    if not events:
        return _DEFAULT_YEARS
    return events[0].start.year - 1, max(event.end.year for event in events) + 2


@lru_cache(maxsize=256)
def _vtimezone_ical(tzid: str, first_year: int, last_year: int) -> bytes:
    # Generating a VTIMEZONE walks the zone's transitions: cache the result.
    zone = Timezone.from_tzid(
        tzid, first_date=date(first_year, 1, 1), last_date=date(last_year, 1, 1)
    )
    return zone.to_ical()


def _vtimezone(tzid: str, first_year: int, last_year: int) -> Timezone:
    ZoneInfo(tzid)  # unknown zone -> ZoneInfoNotFoundError, before icalendar's message
    return Timezone.from_ical(_vtimezone_ical(tzid, first_year, last_year))


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware")
    return value.astimezone(UTC)


def _merge(
    busy: Iterable[tuple[datetime, datetime]], window_start: datetime, window_end: datetime
) -> list[tuple[datetime, datetime]]:
    clipped = sorted(
        (max(_utc(s), window_start), min(_utc(e), window_end)) for s, e in busy
    )
    merged: list[tuple[datetime, datetime]] = []
    for start, end in clipped:
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
