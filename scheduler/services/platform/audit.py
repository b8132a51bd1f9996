"""The audit log: who changed what, when, with the row before and after."""
from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass

from sqlalchemy import inspect

from ...extensions import db
from ...models import AuditEntry

# Never copied into the audit log: secrets.
REDACTED_COLUMNS = {"key_hash", "password", "password_encrypted", "secret", "token_hash"}


@dataclass(frozen=True)
class Actor:
    """Who makes a change (an API key's name, "sms reply", a job) and, for a change made
    over HTTP, the request's id: the caller builds it, services pass it to the log."""

    name: str
    request_id: str | None = None

    @classmethod
    def of(cls, actor: Actor | str) -> Actor:
        return actor if isinstance(actor, Actor) else cls(str(actor))


def _plain(value):
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def snapshot(obj) -> dict | None:
    if obj is None:
        return None
    return {attr.key: _plain(getattr(obj, attr.key))
            for attr in inspect(obj).mapper.column_attrs if attr.key not in REDACTED_COLUMNS}


def record(actor: Actor | str, action: str, obj=None, before: dict | None = None,
           after: dict | None = None, entity_type: str | None = None, entity_id=None) -> None:
    """Add an audit entry to the current transaction (it commits with the change)."""
    actor = Actor.of(actor)
    db.session.add(AuditEntry(
        actor=actor.name, action=action,
        entity_type=entity_type or getattr(obj, "__tablename__", "unknown"),
        entity_id=entity_id if entity_id is not None else getattr(obj, "id", None),
        before=before, after=after if after is not None else snapshot(obj),
        request_id=actor.request_id,
    ))
