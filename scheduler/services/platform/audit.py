"""The audit log: who changed what, when, with the row before and after."""
import datetime as dt
import decimal

from flask import g, has_request_context
from sqlalchemy import inspect

from ...extensions import db
from ...models import AuditEntry

# Never copied into the audit log: secrets.
REDACTED_COLUMNS = {"key_hash", "password", "password_encrypted", "secret", "token_hash"}


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


def record(actor: str, action: str, obj=None, before: dict | None = None,
           after: dict | None = None, entity_type: str | None = None, entity_id=None) -> None:
    """Add an audit entry to the current transaction (it commits with the change)."""
    db.session.add(AuditEntry(
        actor=actor, action=action,
        entity_type=entity_type or getattr(obj, "__tablename__", "unknown"),
        entity_id=entity_id if entity_id is not None else getattr(obj, "id", None),
        before=before, after=after if after is not None else snapshot(obj),
        request_id=getattr(g, "request_id", None) if has_request_context() else None,
    ))
