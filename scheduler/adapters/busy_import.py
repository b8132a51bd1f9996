"""Busy time from providers' external calendars (ICS URLs and CalDAV).

Recurrences are always expanded here, client-side, with ``recurring_ical_events`` in
each event's own zone: Radicale's server-side expansion is wrong across DST for some
VTIMEZONE styles, so servers are only asked for the raw objects in a padded window.
Vendor errors (requests, caldav/niquests) become ``CalendarUnreachable`` here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
import recurring_ical_events
import requests

UTC = timezone.utc
# Widens every query so floating/all-day events (up to +-14h off UTC) and a server's
# off-by-an-hour DST mistakes cannot drop an event that touches the window.
WINDOW_PAD = timedelta(days=1)
# A feed expanding to more than this in one window is treated as bad data
# (e.g. FREQ=MINUTELY), rather than exhausting memory.
MAX_OCCURRENCES = 20_000
MAX_ICS_BYTES = 10 * 1024 * 1024


class CalendarDataError(Exception):
    """The calendar was reached but its content cannot be used."""

    code = "calendar_bad_data"

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class CalendarUnreachable(Exception):
    """The calendar could not be fetched; ``reason`` is fit for the front desk's log."""

    code = "calendar_unreachable"

    def __init__(self, reason: str, kind: str = "error"):
        super().__init__(reason)
        self.reason = reason
        self.kind = kind  # timeout | connection | auth | not_found | http_error | too_large


@dataclass(frozen=True)
class BusyPeriod:
    start: datetime  # aware, UTC
    end: datetime  # aware, UTC
    uid: str
    summary_hidden: bool = True  # titles of private events are never carried


@dataclass(frozen=True)
class FetchResult:
    status: Literal["ok", "not_modified"]
    body: bytes | None
    etag: str | None
    last_modified: str | None


# -- parsing and expansion -----------------------------------------------------------
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
    if window_start.tzinfo is None or window_end.tzinfo is None:
        raise ValueError("window_start and window_end must be timezone-aware")
    try:
        zone = ZoneInfo(default_tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {default_tz!r}") from exc
    window_start, window_end = window_start.astimezone(UTC), window_end.astimezone(UTC)
    calendar = _parse_calendar(ics_bytes)
    try:
        query = recurring_ical_events.of(calendar)
        blocks = _expand(
            query, window_start, window_end, zone, ignore_uid_suffix, max_occurrences
        )
    except CalendarDataError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError) as exc:
        # recurring_ical_events.InvalidCalendar is a ValueError
        raise CalendarDataError(f"cannot expand calendar: {exc}") from exc
    return sorted(blocks, key=lambda b: (b.start, b.end, b.uid))


def _parse_calendar(ics_bytes: bytes) -> icalendar.Calendar:
    if not ics_bytes or not ics_bytes.strip():
        raise CalendarDataError("empty calendar data")
    try:
        calendar = icalendar.Calendar.from_ical(ics_bytes)
    except (ValueError, TypeError, KeyError, IndexError, UnicodeDecodeError) as exc:
        raise CalendarDataError(f"not an iCalendar file: {exc}") from exc
    if calendar.name != "VCALENDAR":
        raise CalendarDataError(f"expected VCALENDAR, got {calendar.name}")
    return calendar


def _expand(query, window_start, window_end, zone, ignore_uid_suffix, limit) -> list[BusyPeriod]:
    blocks: list[BusyPeriod] = []
    seen = 0
    span_start, span_end = window_start - WINDOW_PAD, window_end + WINDOW_PAD
    # Per series, lazily, so a runaway RRULE is stopped by the cap instead of
    # materialising millions of occurrences first.
    for series in query.series:
        for occurrence in series.between(span_start, span_end):
            seen += 1
            if seen > limit:
                raise CalendarDataError(f"more than {limit} occurrences in the window")
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


# -- fetching: ICS over HTTP ---------------------------------------------------------
def fetch_ics(
    url: str,
    etag: str | None,
    last_modified: str | None,
    timeout: float,
    *,
    max_bytes: int = MAX_ICS_BYTES,
) -> FetchResult:
    """Conditional GET. ``timeout`` bounds connecting and the whole download."""
    if url.startswith("webcal://"):
        url = "https://" + url[len("webcal://"):]
    headers = {"Accept": "text/calendar, */*;q=0.5"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    deadline = time.monotonic() + timeout
    try:
        with requests.get(url, headers=headers, timeout=timeout, stream=True) as response:
            if response.status_code == 304:
                return FetchResult(
                    "not_modified",
                    None,
                    response.headers.get("ETag", etag),
                    response.headers.get("Last-Modified", last_modified),
                )
            if response.status_code != 200:
                raise _http_status_error(response.status_code, response.reason)
            body = _read_limited(response, deadline, max_bytes)
            return FetchResult(
                "ok", body, response.headers.get("ETag"), response.headers.get("Last-Modified")
            )
    except requests.exceptions.RequestException as exc:
        raise _unreachable(exc, requests.exceptions, timeout) from exc


def _unreachable(exc, http_errors, timeout: float, prefix: str = "") -> CalendarUnreachable:
    """A requests-style failure (requests', or the copy caldav ships) as ours."""
    if isinstance(exc, http_errors.Timeout):
        return CalendarUnreachable(f"{prefix}timed out after {timeout:g}s", "timeout")
    if isinstance(exc, http_errors.ConnectionError):
        return CalendarUnreachable(f"cannot connect: {_short(exc)}", "connection")
    return CalendarUnreachable(f"{prefix}request failed: {_short(exc)}", "connection")


def _read_limited(response, deadline: float, max_bytes: int) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_content(chunk_size=65536):
        size += len(chunk)
        if size > max_bytes:
            raise CalendarUnreachable(f"calendar larger than {max_bytes} bytes", "too_large")
        if time.monotonic() > deadline:
            raise requests.exceptions.Timeout("download exceeded the timeout")
        chunks.append(chunk)
    return b"".join(chunks)


def _http_status_error(status: int, reason: str | None) -> CalendarUnreachable:
    if status in (401, 403):
        return CalendarUnreachable(
            f"HTTP {status}: access denied (check the calendar's credentials or secret URL)",
            "auth",
        )
    if status in (404, 410):
        return CalendarUnreachable(f"HTTP {status}: calendar not found at this URL", "not_found")
    return CalendarUnreachable(f"HTTP {status} {reason or ''}".strip(), "http_error")


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


# -- fetching: CalDAV ----------------------------------------------------------------
def fetch_caldav(
    url: str,
    username: str | None,
    password: str | None,
    window_start: datetime,
    window_end: datetime,
    timeout: float,
    *,
    auth_type: str | None = "basic",
) -> list[bytes]:
    """Raw iCalendar objects of the events overlapping the (padded) window.

    ``url`` may be a calendar collection, or a principal / calendar home, in which
    case every calendar under it is read. Expand the result with ``parse_busy``.
    Credentials go out as Basic auth up front (servers that never challenge, such as
    Radicale without auth, need it); ``auth_type=None`` negotiates from the 401
    instead, e.g. for digest-only servers.
    """
    # Imported here so that ICS-only deployments do not pay for caldav's import.
    import caldav
    from caldav.elements import dav
    from caldav.lib import error as dav_error
    from caldav.lib.http_sync import requests as dav_http

    if window_start.tzinfo is None or window_end.tzinfo is None:
        raise ValueError("window_start and window_end must be timezone-aware")
    start = window_start.astimezone(UTC) - WINDOW_PAD
    end = window_end.astimezone(UTC) + WINDOW_PAD
    try:
        with caldav.DAVClient(
            url=url,
            username=username,
            password=password,
            auth_type=auth_type if username else None,
            timeout=timeout,
            enable_rfc6764=False,
        ) as client:
            calendars = _calendars_at(client, url, caldav, dav)
            objects: list[bytes] = []
            for calendar in calendars:
                found = calendar.search(
                    start=start, end=end, event=True, expand=False, post_filter=False
                )
                objects.extend(_as_bytes(item.data) for item in found if item.data)
            return objects
    except dav_error.AuthorizationError as exc:
        raise CalendarUnreachable(
            "CalDAV access denied (HTTP 401/403): check username and password", "auth"
        ) from exc
    except NotImplementedError as exc:  # caldav: no auth scheme it supports
        raise CalendarUnreachable(f"CalDAV: {_short(exc)}", "auth") from exc
    except dav_error.NotFoundError as exc:
        raise CalendarUnreachable("CalDAV: no calendar at this URL (HTTP 404)", "not_found") from exc
    except dav_error.DAVError as exc:
        raise CalendarUnreachable(f"CalDAV error: {_short(exc)}", "http_error") from exc
    except dav_http.exceptions.RequestException as exc:
        raise _unreachable(exc, dav_http.exceptions, timeout, "CalDAV ") from exc
    except OSError as exc:
        raise CalendarUnreachable(f"cannot connect: {_short(exc)}", "connection") from exc


def caldav_state_tag(url: str, username: str | None, password: str | None, timeout: float, *,
                     auth_type: str | None = "basic") -> str | None:
    """A tag that changes whenever any event in the calendar(s) changes: the collections'
    DAV:sync-token (RFC 6578). None when the server offers none; then every sync fetches.
    Cheap: one PROPFIND per calendar, no event data."""
    import caldav
    from caldav.elements import dav
    from caldav.lib import error as dav_error
    from caldav.lib.http_sync import requests as dav_http

    try:
        with caldav.DAVClient(url=url, username=username, password=password,
                              auth_type=auth_type if username else None, timeout=timeout,
                              enable_rfc6764=False) as client:
            tags = []
            for calendar in _calendars_at(client, url, caldav, dav):
                tag = calendar.get_properties([dav.SyncToken()]).get("{DAV:}sync-token")
                if not tag:
                    return None
                tags.append(f"{calendar.url}={tag}")
            return "|".join(sorted(tags)) or None
    except dav_http.exceptions.Timeout as exc:
        # A hanging server must cost one timeout, not this one and the full fetch's too.
        raise CalendarUnreachable(f"CalDAV timed out after {timeout:g}s", "timeout") from exc
    except (dav_http.exceptions.ConnectionError, OSError) as exc:
        raise CalendarUnreachable(f"cannot connect: {_short(exc)}", "connection") from exc
    except (dav_error.DAVError, dav_http.exceptions.RequestException, NotImplementedError, AttributeError):
        return None  # no usable token here: the full fetch that follows decides


_CALDAV_CALENDAR = "{urn:ietf:params:xml:ns:caldav}calendar"
_DAV_PRINCIPAL = "{DAV:}principal"
_DAV_COLLECTION = "{DAV:}collection"


def _calendars_at(client, url, caldav, dav) -> list:
    resource = caldav.DAVObject(client=client, url=url)
    types = resource.get_properties([dav.ResourceType()]).get("{DAV:}resourcetype") or []
    if _CALDAV_CALENDAR in types:
        return [client.calendar(url=url)]
    if _DAV_PRINCIPAL in types:
        return client.principal(url=url).calendars()
    if _DAV_COLLECTION in types:  # a calendar home set
        return caldav.CalendarSet(client=client, url=url).calendars()
    raise CalendarUnreachable("CalDAV: this URL is neither a calendar nor a principal", "not_found")


def _as_bytes(data: str | bytes) -> bytes:
    return data if isinstance(data, bytes) else data.encode("utf-8")
