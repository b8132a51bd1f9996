"""Leases: a worker takes a row for a while; another takes it only once that has run out.

A lease is taken by a conditional UPDATE (free, or expired, at this instant), so two
workers racing for one row cannot both win, on either database.
"""
import datetime as dt

from sqlalchemy import or_, update

from ...extensions import db


def lease_free(model, now: dt.datetime):
    return or_(model.lease_until.is_(None), model.lease_until < now)


def take_lease(model, row_id: int, owner: str, now: dt.datetime, lease: dt.timedelta) -> bool:
    taken = db.session.execute(update(model).where(model.id == row_id, lease_free(model, now))
                               .values(lease_owner=owner, lease_until=now + lease)).rowcount
    return taken == 1
