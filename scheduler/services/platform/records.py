"""Create, read, update and delete for the reference resources, audited in one transaction."""
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ...database import begin_write
from ...domain.errors import Conflict, Invalid, NotFound, PreconditionFailed
from ...extensions import db
from . import audit


def get(model, obj_id: int, label: str | None = None):
    obj = db.session.get(model, obj_id)
    if obj is None:
        raise NotFound(f"No {label or model.__tablename__.rstrip('s')} with id {obj_id}.")
    return obj


def require_refs(**refs) -> None:
    """Body fields that name other rows: an unknown id is a 422 naming the field."""
    errors = {}
    for field, (model, value) in refs.items():
        if value is not None and db.session.scalar(select(model.id).where(model.id == value)) is None:
            errors[field] = [f"No {model.__tablename__.rstrip('s').replace('_', ' ')} with id {value}."]
    if errors:
        raise Invalid("Some fields name rows that do not exist.", errors=errors)


def lock(model, obj_id: int, label: str | None = None):
    """Load a row for update (PostgreSQL row lock; SQLite already holds the write lock)."""
    obj = db.session.scalar(select(model).where(model.id == obj_id).with_for_update())
    if obj is None:
        raise NotFound(f"No {label or model.__tablename__.rstrip('s')} with id {obj_id}.")
    return obj


def check_version(obj, expected: int | None) -> None:
    """If-Match: the caller's copy must be the current one."""
    if expected is not None and obj.version != expected:
        raise PreconditionFailed(
            f"{obj.__tablename__} {obj.id} changed since you read it (now version {obj.version}).")


def commit_or_conflict(what: str) -> None:
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict(f"{what} conflicts with an existing record.", code="duplicate") from exc


def create(model, values: dict, actor: str, check=None):
    begin_write()
    if check:
        check(None, values)
    obj = model(**values)
    db.session.add(obj)
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict(f"This {model.__tablename__.rstrip('s')} conflicts with an existing one.",
                       code="duplicate") from exc
    audit.record(actor, "create", obj)
    commit_or_conflict(model.__tablename__)
    return obj


def update(model, obj_id: int, values: dict, actor: str, expected_version: int | None,
           check=None):
    begin_write()
    obj = lock(model, obj_id)
    check_version(obj, expected_version)
    if check:
        check(obj, values)
    before = audit.snapshot(obj)
    changed = {k: v for k, v in values.items() if getattr(obj, k) != v}
    for key, value in changed.items():
        setattr(obj, key, value)
    if changed:
        obj.version = obj.version + 1
        audit.record(actor, "update", obj, before=before)
    commit_or_conflict(model.__tablename__)
    return obj
