"""Busy time in: providers' own calendars (CalDAV or an ICS URL) become busy blocks.

A sync replaces one calendar's blocks in one transaction, so a failed or partial fetch
leaves the previous blocks in place. Appointments that now overlap a block are flagged
for the front desk, never cancelled. A failing calendar records its error and backs off;
it never stops the others.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import delete, func, select

from ...adapters.busy_import import CalendarUnreachable, caldav_state_tag, fetch_caldav, fetch_ics
from ...adapters.ical_busy import CalendarDataError, TooManyOccurrences, parse_busy_all
from ...adapters.outbound import OutboundError, OutboundPolicy
from ...domain import intervals as iv
from ...domain.errors import Invalid, UpstreamFailed
from ...domain.intervals import Interval
from ...domain.retry import Backoff
from ...domain.vocabulary import OCCUPYING_STATUSES
from ...extensions import db
from ...metrics import CALENDAR_FAILURES
from ...models import Appointment, BusyBlock, ExternalCalendar, Provider
from ..platform import leases, records
from ..platform.outbound_policy import require_allowed
from ..platform.secrets_box import SecretBox
from ..platform.transaction import end_read, write_transaction
from ..scheduling import flags
from . import changes
from .feeds import UID_DOMAIN, provider_zone

log = logging.getLogger("scheduler.external_calendars")
HORIZON = dt.timedelta(days=90)
PAST = dt.timedelta(days=1)
INTERVAL = dt.timedelta(minutes=5)
LEASE = dt.timedelta(minutes=3)
TIMEOUT = 15.0
# After a failure: 10, 20, 40 minutes, then hourly (no jitter: one row per calendar).
RETRY = Backoff(base=INTERVAL, cap=dt.timedelta(hours=1), jitter=False)
EXTERNAL_BUSY = "external_busy"  # the flag this module owns
BUSY_MESSAGE = "The provider's own calendar shows them busy."


class CalendarSyncFailed(UpstreamFailed):
    code = "calendar_unreachable"


@dataclass
class SyncResult:
    calendar_id: int
    blocks: int
    not_modified: bool
    conflicts: list[int]


def link_calendar(provider_id: int, data: dict, actor, now: dt.datetime, secret_box: SecretBox,
                  policy: OutboundPolicy) -> ExternalCalendar:
    require_allowed(data["url"], policy)
    if data["kind"] == "ics" and (data.get("username") or data.get("password")):
        raise Invalid("An ICS URL takes no credentials; put a secret URL instead.",
                      errors={"username": ["Not used for ics."]})
    with write_transaction():
        records.lock(Provider, provider_id)
        return records.add(ExternalCalendar(
            provider_id=provider_id, kind=data["kind"], url=data["url"], username=data.get("username"),
            password_sealed=secret_box.seal(data["password"]) if data.get("password") else None,
            next_sync_at=now), actor)


def unlink_calendar(provider_id: int, calendar_id: int, actor, now: dt.datetime) -> None:
    with write_transaction():
        cal = records.lock(ExternalCalendar, calendar_id, "external calendar")
        _must_belong(cal, provider_id)
        db.session.execute(delete(BusyBlock).where(BusyBlock.calendar_id == cal.id))
        changes.record("busy.updated", "external_calendar", cal.id, now, provider_id=provider_id,
                       data={"blocks": 0, "unlinked": True})
        records.remove(cal, actor)


def list_calendars(provider_id: int, limit: int, after: int | None) -> records.Page:
    records.get(Provider, provider_id)
    return records.page(ExternalCalendar, limit, after, ExternalCalendar.provider_id == provider_id)


def _must_belong(cal: ExternalCalendar | None, provider_id: int | None) -> None:
    if cal is None or (provider_id is not None and cal.provider_id != provider_id):
        records.get(ExternalCalendar, -1, "external calendar")  # raises NotFound


def sync_calendar(calendar_id: int, now: dt.datetime, secret_box: SecretBox, policy: OutboundPolicy, *,
                  max_occurrences: int, provider_id: int | None = None) -> SyncResult:
    """Fetch one calendar and replace its busy blocks; raises CalendarSyncFailed on failure
    (after recording it), keeping the old blocks. Every request obeys ``policy``; the
    calendar may expand to ``max_occurrences`` (CALENDAR_MAX_OCCURRENCES)."""
    cal = db.session.get(ExternalCalendar, calendar_id)
    _must_belong(cal, provider_id)
    kind, url, username, sealed = cal.kind, cal.url, cal.username, cal.password_sealed
    password = secret_box.unseal(sealed) if sealed else None
    etag, last_modified, pid = cal.etag, cal.last_modified, cal.provider_id
    tz = provider_zone(pid)
    end_read()  # no transaction (nor SQLite write lock) while we wait on the network
    window = (now - PAST, now + HORIZON)
    try:
        if sealed and password is None:
            raise CalendarUnreachable("stored password unreadable (SECRET_KEY changed); link it again", "auth")
        if kind == "ics":
            fetched = fetch_ics(url, etag, last_modified, TIMEOUT, policy=policy)
            if fetched.status == "not_modified":
                return _record_success(calendar_id, now, None, fetched.etag, fetched.last_modified)
            objects = [fetched.body]
            etag, last_modified = fetched.etag, fetched.last_modified
        else:
            # The server's sync token (or ctag) tells us cheaply whether anything changed.
            tag = caldav_state_tag(url, username, password, TIMEOUT, policy=policy)
            if tag is not None and tag == etag and not _horizon_moved(last_modified, now):
                return _record_success(calendar_id, now, None, etag, last_modified)
            objects = fetch_caldav(url, username, password, *window, TIMEOUT, policy=policy)
            etag, last_modified = tag, now.date().isoformat()
        blocks = parse_busy_all(objects, *window, tz, ignore_uid_suffix="@" + UID_DOMAIN,
                                max_occurrences=max_occurrences)
    except (CalendarUnreachable, CalendarDataError, OutboundError) as exc:
        _record_failure(calendar_id, now, f"{exc.code}: {exc.reason}")
        raise CalendarSyncFailed(f"Calendar {calendar_id} could not be read: {exc.reason}. "
                                 "The previous busy time is kept.", code=_sync_code(exc)) from None
    return _record_success(calendar_id, now, blocks, etag, last_modified)


def _sync_code(exc) -> str:
    """The 502's code (API.md: calendar_unreachable), precise where the fix is not upstream."""
    return exc.code if isinstance(exc, (TooManyOccurrences, OutboundError)) else "calendar_unreachable"


def _horizon_moved(fetched_on: str | None, now: dt.datetime) -> bool:
    """Recurring events expand over a window that moves with the days: refetch daily."""
    return fetched_on != now.date().isoformat()


def _record_success(calendar_id, now, blocks, etag, last_modified) -> SyncResult:
    with write_transaction():
        cal = db.session.get(ExternalCalendar, calendar_id)
        if cal is None:  # unlinked while we were fetching
            return SyncResult(calendar_id, 0, True, [])
        cal.last_synced_at, cal.last_error, cal.last_error_at, cal.failures = now, None, None, 0
        cal.next_sync_at, cal.etag, cal.last_modified = now + INTERVAL, etag, last_modified
        leases.release(cal)
        if blocks is None:
            return SyncResult(calendar_id, 0, True, [])
        db.session.execute(delete(BusyBlock).where(BusyBlock.calendar_id == calendar_id))
        merged = iv.merge(Interval(b.start, b.end) for b in blocks)
        db.session.add_all(BusyBlock(calendar_id=calendar_id, provider_id=cal.provider_id, start_at=m.start,
                                     end_at=m.end) for m in merged)
        changes.record("busy.updated", "external_calendar", calendar_id, now, provider_id=cal.provider_id,
                       data={"blocks": len(merged)})
        return SyncResult(calendar_id, len(merged), False, flag_conflicts(cal.provider_id, now))


def _record_failure(calendar_id, now, reason: str) -> None:
    CALENDAR_FAILURES.inc()
    with write_transaction():
        cal = db.session.get(ExternalCalendar, calendar_id)
        if cal is None:
            return
        cal.failures += 1
        cal.last_error, cal.last_error_at = reason[:500], now
        cal.next_sync_at = now + RETRY.after(cal.failures + 1)
        leases.release(cal)
        log.warning("calendar %s sync failed (%s in a row): %s", calendar_id, cal.failures, reason)


def flag_conflicts(provider_id: int, now: dt.datetime) -> list[int]:
    """Flag (`external_busy`) the upcoming appointments that overlap imported busy time and
    unflag those that no longer do; returns the newly flagged. Nothing is cancelled: the
    front desk decides."""
    blocks = iv.merge(Interval(a, b) for a, b in db.session.execute(
        select(BusyBlock.start_at, BusyBlock.end_at).where(BusyBlock.provider_id == provider_id,
                                                           BusyBlock.end_at > now)))
    upcoming = list(db.session.execute(select(Appointment.id, Appointment.start_at, Appointment.provider_busy_end)
                                       .where(Appointment.provider_id == provider_id,
                                              Appointment.status.in_(OCCUPYING_STATUSES),
                                              Appointment.end_at > now,
                                              Appointment.start_at < now + HORIZON + PAST)))
    wanted = {a: {EXTERNAL_BUSY: BUSY_MESSAGE} for a, start, end in upcoming
              if iv.overlaps_any(blocks, Interval(start, end))}
    # Also those flagged before that are no longer upcoming (moved away, cancelled).
    scope = {a for a, _, _ in upcoming} | set(flags.flagged_ids(
        [EXTERNAL_BUSY], Appointment.provider_id == provider_id))
    return [f.appointment_id for f in flags.reconcile(scope, [EXTERNAL_BUSY], wanted, now)
            if f.action == "added"]


def claim_due(now: dt.datetime, owner: str) -> int | None:
    """Take one due calendar under a lease (one calendar at a time per worker)."""
    with write_transaction():
        due = (ExternalCalendar.next_sync_at <= now) & leases.lease_free(ExternalCalendar, now)
        taken = leases.claim(ExternalCalendar, due, owner, now, LEASE,
                             order_by=(ExternalCalendar.next_sync_at, ExternalCalendar.id))
    return taken[0] if taken else None


def failing_count() -> int:
    return db.session.scalar(select(func.count()).select_from(ExternalCalendar)
                             .where(ExternalCalendar.last_error.is_not(None))) or 0
