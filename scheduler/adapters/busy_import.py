"""Fetching providers' external calendars: an ICS URL (conditional GET) or CalDAV (the raw
objects of a padded window; ical_busy.py expands them into busy periods).

Every request goes through ``outbound.OutboundSession`` (vetted address, size cap, time
limit; caldav is handed that session), so the fetches raise ``CalendarUnreachable`` for
vendor errors and ``outbound.OutboundError`` when the policy stops a request. No message
carries the remote server's words: only status codes and our own sentences.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import Literal

import requests

from .ical_busy import UTC, WINDOW_PAD, CalendarDataError
from .outbound import OutboundPolicy, OutboundSession, check_url

log = logging.getLogger("scheduler.busy_import")
MAX_ICS_BYTES = 10 * 1024 * 1024  # also the cap on each CalDAV answer
STRICT = OutboundPolicy()  # nothing exempt: what a caller gets unless it passes the operator's


class CalendarUnreachable(Exception):
    """The calendar could not be fetched; ``reason`` is fit for the front desk's log."""

    code = "calendar_unreachable"

    def __init__(self, reason: str, kind: str = "error"):
        super().__init__(reason)
        self.reason = reason
        self.kind = kind  # timeout | connection | auth | not_found | http_error


@dataclass(frozen=True)
class FetchResult:
    status: Literal["ok", "not_modified"]
    body: bytes | None
    etag: str | None
    last_modified: str | None


# -- ICS over HTTP ---------------------------------------------------------------------
def fetch_ics(
    url: str,
    etag: str | None,
    last_modified: str | None,
    timeout: float,
    *,
    max_bytes: int = MAX_ICS_BYTES,
    policy: OutboundPolicy = STRICT,
) -> FetchResult:
    """Conditional GET. ``timeout`` bounds connecting and the whole download; redirects
    are followed only to targets the policy allows."""
    if url.startswith("webcal://"):
        url = "https://" + url[len("webcal://"):]
    headers = {"Accept": "text/calendar, */*;q=0.5"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        with OutboundSession(policy, max_bytes=max_bytes, timeout=timeout) as http:
            response = http.get(url, headers=headers, timeout=timeout)
    except requests.exceptions.RequestException as exc:
        raise _unreachable(exc, timeout) from exc
    if response.status_code == 304:
        return FetchResult("not_modified", None, response.headers.get("ETag", etag),
                           response.headers.get("Last-Modified", last_modified))
    if response.status_code != 200:
        raise _http_status_error(response.status_code)
    return FetchResult("ok", response.content, response.headers.get("ETag"),
                       response.headers.get("Last-Modified"))


def _unreachable(exc: BaseException, timeout: float, what: str = "") -> CalendarUnreachable:
    """Our sentence for a transport error: its text would quote what the server did."""
    if isinstance(exc, requests.exceptions.Timeout):
        return CalendarUnreachable(f"{what}timed out after {timeout:g}s", "timeout")
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return CalendarUnreachable(f"{what}too many redirects", "http_error")
    if isinstance(exc, requests.exceptions.SSLError):
        return CalendarUnreachable(f"{what}the server's TLS certificate was refused", "connection")
    return CalendarUnreachable(f"{what}cannot connect to the server, or it cut the connection", "connection")


def _http_status_error(status: int) -> CalendarUnreachable:
    if status in (401, 403):
        return CalendarUnreachable(
            f"HTTP {status}: access denied (check the calendar's credentials or secret URL)",
            "auth",
        )
    if status in (404, 410):
        return CalendarUnreachable(f"HTTP {status}: calendar not found at this URL", "not_found")
    try:  # the standard phrase, not the one the server sent
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return CalendarUnreachable(f"HTTP {status} {phrase}".strip(), "http_error")


# -- CalDAV --------------------------------------------------------------------------
def fetch_caldav(
    url: str,
    username: str | None,
    password: str | None,
    window_start: datetime,
    window_end: datetime,
    timeout: float,
    *,
    auth_type: str | None = "basic",
    policy: OutboundPolicy = STRICT,
    max_bytes: int = MAX_ICS_BYTES,
) -> list[bytes]:
    """Raw iCalendar objects of the events overlapping the (padded) window.

    ``url`` may be a calendar collection, or a principal / calendar home, in which
    case every calendar under it is read. Expand the result with ``parse_busy_all``.
    Credentials go out as Basic auth up front (servers that never challenge, such as
    Radicale without auth, need it); ``auth_type=None`` negotiates from the 401
    instead, e.g. for digest-only servers.
    """
    from caldav.lib import error as dav_error

    if window_start.tzinfo is None or window_end.tzinfo is None:
        raise ValueError("window_start and window_end must be timezone-aware")
    start = window_start.astimezone(UTC) - WINDOW_PAD
    end = window_end.astimezone(UTC) + WINDOW_PAD
    with _caldav_client(url, username, password, timeout, auth_type, policy, max_bytes) as client:
        try:
            objects: list[bytes] = []
            for calendar in _calendars_at(client, url):
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
            raise CalendarUnreachable("CalDAV: the server asks for an unsupported kind of login", "auth") from exc
        except dav_error.NotFoundError as exc:
            raise CalendarUnreachable("CalDAV: no calendar at this URL (HTTP 404)", "not_found") from exc
        except dav_error.DAVError as exc:  # its text carries the server's answer: not shown
            raise CalendarUnreachable("CalDAV: the server refused the calendar query", "http_error") from exc


def caldav_state_tag(url: str, username: str | None, password: str | None, timeout: float, *,
                     auth_type: str | None = "basic", policy: OutboundPolicy = STRICT,
                     max_bytes: int = MAX_ICS_BYTES) -> str | None:
    """A tag that changes whenever any event in the calendar(s) changes: the collections'
    DAV:sync-token (RFC 6578). None when the server offers none; then every sync fetches.
    Cheap: one PROPFIND per calendar, no event data."""
    from caldav.elements import dav
    from caldav.lib import error as dav_error

    # A hanging server must cost one timeout, not this one and the full fetch's too:
    # transport errors propagate (as CalendarUnreachable) from _caldav_client.
    with _caldav_client(url, username, password, timeout, auth_type, policy, max_bytes) as client:
        try:
            tags = []
            for calendar in _calendars_at(client, url):
                tag = calendar.get_properties([dav.SyncToken()]).get("{DAV:}sync-token")
                if not tag:
                    return None
                tags.append(f"{calendar.url}={tag}")
            return "|".join(sorted(tags)) or None
        except (dav_error.DAVError, NotImplementedError, AttributeError):
            return None  # no usable token here: the full fetch that follows decides


@contextmanager
def _caldav_client(url, username, password, timeout, auth_type, policy, max_bytes):
    """A caldav client whose every request goes through an OutboundSession."""
    # Imported here so that ICS-only deployments do not pay for caldav's import.
    import caldav

    check_url(url, policy)  # refuse before caldav is even built
    http = OutboundSession(policy, max_bytes=max_bytes, timeout=timeout)
    try:
        with caldav.DAVClient(url=url, username=username, password=password,
                              auth_type=auth_type if username else None, timeout=timeout,
                              enable_rfc6764=False) as client:
            client.session.close()
            client.session = http  # caldav sends everything through client.session.request
            yield client
    except requests.exceptions.RequestException as exc:
        http.raise_if_refused()
        raise _unreachable(exc, timeout, "CalDAV: ") from exc
    except OSError as exc:
        http.raise_if_refused()
        raise CalendarUnreachable("CalDAV: cannot connect to the server", "connection") from exc
    except (CalendarUnreachable, CalendarDataError):
        http.raise_if_refused()  # the refusal is the real cause of whatever caldav made of it
        raise
    except Exception as exc:  # caldav or lxml choking on an answer (e.g. "XML" that is not)
        http.raise_if_refused()
        log.warning("CalDAV answer unreadable (%s)", type(exc).__name__)
        raise CalendarUnreachable("CalDAV: the server's answer could not be read", "http_error") from exc
    finally:
        http.close()
    # caldav catches broad exceptions in places: a refusal it swallowed still counts.
    http.raise_if_refused()


_CALDAV_CALENDAR = "{urn:ietf:params:xml:ns:caldav}calendar"
_DAV_PRINCIPAL = "{DAV:}principal"
_DAV_COLLECTION = "{DAV:}collection"


def _calendars_at(client, url) -> list:
    import caldav
    from caldav.elements import dav

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
