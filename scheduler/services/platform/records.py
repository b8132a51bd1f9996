"""What every stored resource shares: find or lock a row by id, check the caller's copy is
current, create and edit with an audit entry, and pages of rows in id order.

The functions that write run inside the caller's write_transaction."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ...domain.errors import Invalid, NotFound, PreconditionFailed
from ...extensions import db
from . import audit


@dataclass
class Page:
    items: list
    next_after: int | None  # the id to continue after when more rows follow


def _label(model) -> str:
    return model.__tablename__.rstrip("s").replace("_", " ")


def get(model, obj_id: int, label: str | None = None):
    obj = db.session.get(model, obj_id)
    if obj is None:
        raise NotFound(f"No {label or _label(model)} with id {obj_id}.")
    return obj


def require_refs(**refs) -> None:
    """Body fields that name other rows: an unknown id is a 422 naming the field."""
    errors = {}
    for field, (model, value) in refs.items():
        if value is not None and db.session.scalar(select(model.id).where(model.id == value)) is None:
            errors[field] = [f"No {_label(model)} with id {value}."]
    if errors:
        raise Invalid("Some fields name rows that do not exist.", errors=errors)


def lock(model, obj_id: int, label: str | None = None):
    """Load a row for update (PostgreSQL row lock; SQLite already holds the write lock)."""
    obj = db.session.scalar(select(model).where(model.id == obj_id).with_for_update())
    if obj is None:
        raise NotFound(f"No {label or _label(model)} with id {obj_id}.")
    return obj


def check_version(obj, expected: int | None) -> None:
    """The caller's copy must be the current one (None: the caller did not say)."""
    if expected is not None and obj.version != expected:
        raise PreconditionFailed(
            f"{obj.__tablename__} {obj.id} changed since you read it (now version {obj.version}).")


def lock_current(model, obj_id: int, expected_version: int | None):
    obj = lock(model, obj_id)
    check_version(obj, expected_version)
    return obj


def add(obj, actor, action: str = "create"):
    db.session.add(obj)
    db.session.flush()
    audit.record(actor, action, obj)
    return obj


def apply(obj, values: dict, actor, action: str = "update"):
    """Set the fields that differ; a real change raises the version and is audited."""
    before = audit.snapshot(obj)
    changed = {k: v for k, v in values.items() if getattr(obj, k) != v}
    for key, value in changed.items():
        setattr(obj, key, value)
    if changed:
        obj.version = obj.version + 1
        audit.record(actor, action, obj, before=before)
    return obj


def remove(obj, actor) -> None:
    audit.record(actor, "delete", obj, before=audit.snapshot(obj), after={})
    db.session.delete(obj)


def page(model, limit: int, after: int | None, *filters, options=()) -> Page:
    """Keyset pagination by id: stable under inserts, one query per page."""
    query = select(model).where(*filters).order_by(model.id).limit(limit + 1)
    if after:
        query = query.where(model.id > after)
    rows = list(db.session.scalars(query.options(*options)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, rows[-1].id if more and rows else None)
