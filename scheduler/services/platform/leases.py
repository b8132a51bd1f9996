"""Leases: a worker takes rows for a while; another takes them only once that has run out.

Texts, calendar syncs and webhook queues are claimed the same way: inside the caller's
write transaction, select the due rows (PostgreSQL skips rows another worker holds locked;
SQLite's single writer serialises claimers), then take them with a conditional UPDATE that
repeats the condition, so two workers racing for one row cannot both win.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select, update

from ...extensions import db


def lease_free(model, now: dt.datetime):
    return or_(model.lease_until.is_(None), model.lease_until < now)


def claim(model, due, owner: str, now: dt.datetime, lease: dt.timedelta, *, order_by,
          limit: int = 1, values: dict | None = None) -> list[int]:
    """Take up to ``limit`` rows matching ``due`` for ``owner`` until ``now + lease``, setting
    ``values`` too; returns the ids taken, in ``order_by`` order."""
    query = select(model.id).where(due).order_by(*order_by).limit(limit)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(db.session.scalars(query))
    if not ids:
        return []
    until = now + lease
    taken = db.session.execute(
        update(model).where(model.id.in_(ids), due)
        .values(lease_owner=owner, lease_until=until, **(values or {}))
        .execution_options(synchronize_session=False)).rowcount
    if taken == len(ids):
        return ids
    mine = set(db.session.scalars(select(model.id).where(
        model.id.in_(ids), model.lease_owner == owner, model.lease_until == until)))
    return [i for i in ids if i in mine]


def update_if_held(model, row_id: int, owner: str, *conditions, **values) -> bool:
    """Write ``values`` only while ``owner`` still holds the row (and ``conditions`` hold):
    a worker whose lease ran out and was taken over records nothing."""
    result = db.session.execute(
        update(model).where(model.id == row_id, model.lease_owner == owner, *conditions)
        .values(**values).execution_options(synchronize_session=False))
    return result.rowcount == 1


def release(row) -> None:
    """Give a loaded row back (its worker is done with it)."""
    row.lease_owner = row.lease_until = None
