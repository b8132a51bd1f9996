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

from flask import current_app
from sqlalchemy import delete, select

from ...adapters.busy_import import (CalendarDataError, CalendarUnreachable, TooManyOccurrences, caldav_state_tag,
                                     fetch_caldav, fetch_ics, parse_busy_all)
from ...adapters.outbound import OutboundError
from ...database import begin_write
from ...domain import intervals as iv
from ...domain.errors import Invalid, UpstreamFailed
from ...domain.intervals import Interval
from ...extensions import db
from ...metrics import CALENDAR_FAILURES
from ...models import OCCUPYING_STATUSES, Appointment, BusyBlock, ExternalCalendar, Provider
from . import changefeed
from ..platform import audit, outbound_policy, records
from ..platform.leases import lease_free, take_lease
from .feeds import UID_DOMAIN, provider_zone
from ..platform.secrets_box import seal, unseal

log = logging.getLogger("scheduler.calendar_sync")
HORIZON = dt.timedelta(days=90)
PAST = dt.timedelta(days=1)
INTERVAL = dt.timedelta(minutes=5)
LEASE = dt.timedelta(minutes=3)
TIMEOUT = 15.0
MAX_BACKOFF = dt.timedelta(hours=1)


class CalendarSyncFailed(UpstreamFailed):
    code = "calendar_unreachable"


@dataclass
class SyncResult:
    calendar_id: int
    blocks: int
    not_modified: bool
    conflicts: list[int]


def link_calendar(provider_id: int, data: dict, actor: str, now: dt.datetime) -> ExternalCalendar:
    outbound_policy.require_allowed(data["url"])
    begin_write()
    records.lock(Provider, provider_id)
    if data["kind"] == "ics" and (data.get("username") or data.get("password")):
        raise Invalid("An ICS URL takes no credentials; put a secret URL instead.",
                      errors={"username": ["Not used for ics."]})
    cal = ExternalCalendar(provider_id=provider_id, kind=data["kind"], url=data["url"],
                           username=data.get("username"),
                           password_sealed=seal(data["password"]) if data.get("password") else None,
                           next_sync_at=now)
    db.session.add(cal)
    db.session.flush()
    audit.record(actor, "create", cal)
    db.session.commit()
    return cal


def unlink_calendar(provider_id: int, calendar_id: int, actor: str, now: dt.datetime) -> None:
    begin_write()
    cal = _calendar_of(provider_id, calendar_id)
    audit.record(actor, "delete", cal, before=audit.snapshot(cal), after={})
    db.session.execute(delete(BusyBlock).where(BusyBlock.calendar_id == cal.id))
    changefeed.record("busy.updated", "external_calendar", cal.id, now, provider_id=provider_id,
                      data={"blocks": 0, "unlinked": True})
    db.session.delete(cal)
    db.session.commit()


def _calendar_of(provider_id: int, calendar_id: int) -> ExternalCalendar:
    cal = records.lock(ExternalCalendar, calendar_id, "external calendar")
    if cal.provider_id != provider_id:
        records.get(ExternalCalendar, -1, "external calendar")  # raises NotFound
    return cal


def sync_calendar(calendar_id: int, now: dt.datetime, provider_id: int | None = None) -> SyncResult:
    """Fetch one calendar and replace its busy blocks; raises CalendarSyncFailed on failure
    (after recording it), keeping the old blocks."""
    cal = db.session.get(ExternalCalendar, calendar_id)
    if cal is None or (provider_id is not None and cal.provider_id != provider_id):
        records.get(ExternalCalendar, -1, "external calendar")
    kind, url, username, sealed = cal.kind, cal.url, cal.username, cal.password_sealed
    password = unseal(sealed) if sealed else None
    etag, last_modified, pid = cal.etag, cal.last_modified, cal.provider_id
    tz = provider_zone(pid)
    db.session.rollback()  # no transaction (nor SQLite write lock) while we wait on the network
    window = (now - PAST, now + HORIZON)
    policy, cap = outbound_policy.policy(), current_app.extensions["settings"].calendar_max_occurrences
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
        blocks = parse_busy_all(objects, *window, tz, ignore_uid_suffix="@" + UID_DOMAIN, max_occurrences=cap)
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
    begin_write()
    cal = db.session.get(ExternalCalendar, calendar_id)
    if cal is None:  # unlinked while we were fetching
        db.session.rollback()
        return SyncResult(calendar_id, 0, True, [])
    cal.last_synced_at, cal.last_error, cal.last_error_at, cal.failures = now, None, None, 0
    cal.next_sync_at, cal.etag, cal.last_modified = now + INTERVAL, etag, last_modified
    cal.lease_owner = cal.lease_until = None
    if blocks is None:
        db.session.commit()
        return SyncResult(calendar_id, 0, True, [])
    db.session.execute(delete(BusyBlock).where(BusyBlock.calendar_id == calendar_id))
    merged = iv.merge(Interval(b.start, b.end) for b in blocks)
    db.session.add_all(BusyBlock(calendar_id=calendar_id, provider_id=cal.provider_id, start_at=m.start,
                                 end_at=m.end) for m in merged)
    changefeed.record("busy.updated", "external_calendar", calendar_id, now, provider_id=cal.provider_id,
                      data={"blocks": len(merged)})
    conflicts = flag_conflicts(cal.provider_id, now)
    db.session.commit()
    return SyncResult(calendar_id, len(merged), False, conflicts)


def _record_failure(calendar_id, now, reason: str) -> None:
    begin_write()
    cal = db.session.get(ExternalCalendar, calendar_id)
    CALENDAR_FAILURES.inc()
    if cal is not None:
        cal.failures += 1
        cal.last_error, cal.last_error_at = reason[:500], now
        cal.next_sync_at = now + min(MAX_BACKOFF, INTERVAL * (2 ** min(cal.failures, 6)))
        cal.lease_owner = cal.lease_until = None
        log.warning("calendar %s sync failed (%s in a row): %s", calendar_id, cal.failures, reason)
    db.session.commit()


def flag_conflicts(provider_id: int, now: dt.datetime) -> list[int]:
    """Mark upcoming appointments that overlap imported busy time; unmark those that no
    longer do. Nothing is cancelled: the front desk decides."""
    blocks = iv.merge(Interval(a, b) for a, b in db.session.execute(
        select(BusyBlock.start_at, BusyBlock.end_at).where(BusyBlock.provider_id == provider_id,
                                                           BusyBlock.end_at > now)))
    newly = []
    for appt in db.session.scalars(select(Appointment).where(
            Appointment.provider_id == provider_id, Appointment.status.in_(OCCUPYING_STATUSES),
            Appointment.end_at > now, Appointment.start_at < now + HORIZON + PAST)):
        clash = iv.overlaps_any(blocks, Interval(appt.start_at, appt.provider_busy_end))
        if clash and not appt.conflict:
            appt.conflict, appt.conflict_reason = True, "The provider's own calendar shows them busy."
            appt.version += 1
            newly.append(appt.id)
            changefeed.record_appointment("appointment.conflict", appt, now)
        elif not clash and appt.conflict:
            appt.conflict, appt.conflict_reason = False, None
            appt.version += 1
    return newly


def claim_due(now: dt.datetime, owner: str) -> int | None:
    """Take one due calendar under a lease (one calendar at a time per worker)."""
    begin_write()
    cal_id = db.session.scalar(select(ExternalCalendar.id).where(
        ExternalCalendar.next_sync_at <= now, lease_free(ExternalCalendar, now))
        .order_by(ExternalCalendar.next_sync_at, ExternalCalendar.id).limit(1))
    if cal_id is not None and not take_lease(ExternalCalendar, cal_id, owner, now, LEASE):
        cal_id = None
    db.session.commit()
    return cal_id


def busy_blocks(provider_ids, lo: dt.datetime, hi: dt.datetime) -> dict[int, list[Interval]]:
    """Imported busy time for the scheduling rules."""
    out: dict[int, list[Interval]] = {}
    for pid, a, b in db.session.execute(select(BusyBlock.provider_id, BusyBlock.start_at, BusyBlock.end_at)
                                        .where(BusyBlock.provider_id.in_(list(provider_ids)),
                                               BusyBlock.start_at < hi, BusyBlock.end_at > lo)):
        out.setdefault(pid, []).append(Interval(a, b))
    return out


def failing_count() -> int:
    from sqlalchemy import func

    return db.session.scalar(select(func.count()).select_from(ExternalCalendar)
                             .where(ExternalCalendar.last_error.is_not(None))) or 0
