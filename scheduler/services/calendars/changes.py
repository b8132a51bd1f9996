"""The change feed: every change that affects availability, in commit order.

A reader paging with ``since=<last id>`` must never miss a row that commits later with a
smaller id. So the id is taken under a transaction-scoped lock held until commit: on
PostgreSQL an advisory lock (``pg_advisory_xact_lock``) around the insert, on SQLite the
single writer lock every write already holds. Ids are therefore assigned in commit order.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select, text

from ...extensions import db
from ...models import Appointment, Change
from ..platform.records import Page

CHANGE_LOCK = 0x5C4E_D01E  # any constant: the advisory lock's key


def record(kind: str, entity_type: str, entity_id: int | None, now: dt.datetime, *,
           provider_id=None, room_id=None, location_id=None, start=None, end=None,
           data: dict | None = None) -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHANGE_LOCK})
    db.session.add(Change(at=now, kind=kind, entity_type=entity_type, entity_id=entity_id,
                          provider_id=provider_id, room_id=room_id, location_id=location_id,
                          start_at=start, end_at=end, data=data or {}))


def record_appointment(kind: str, appt: Appointment, now: dt.datetime, **extra) -> None:
    record(kind, "appointment", appt.id, now, provider_id=appt.provider_id, room_id=appt.room_id,
           location_id=appt.location_id, start=appt.start_at, end=appt.room_busy_end or appt.end_at,
           data={"status": appt.status, "sequence": appt.sequence, "telehealth": appt.telehealth,
                 "provider_busy_end": appt.provider_busy_end.isoformat(), **extra})


def page(since: int, limit: int, provider_id: int | None = None, location_id: int | None = None) -> Page:
    """The changes after ``since``; ``next_after`` is where to go on from (``since`` itself
    when nothing is new, so a reader can ask again with the same cursor)."""
    query = select(Change).where(Change.id > since).order_by(Change.id).limit(limit)
    if provider_id is not None:
        query = query.where(Change.provider_id == provider_id)
    if location_id is not None:
        query = query.where(Change.location_id == location_id)
    rows = list(db.session.scalars(query))
    return Page(rows, rows[-1].id if rows else since)
