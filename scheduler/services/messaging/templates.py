"""Admins' wording for texts: validated on save (never names the treatment), resolved
per appointment from the most specific scope."""
from __future__ import annotations

from sqlalchemy import or_, select

from ...domain.errors import Conflict, Invalid
from ...domain.templates import TemplateError, validate_template
from ...extensions import db
from ...models import Location, MessageTemplate, SessionType
from ..platform import records
from ..platform.transaction import write_transaction

LABEL = "message template"


def _check(values: dict) -> None:
    try:
        validate_template(values["body"], values["kind"])
    except TemplateError as exc:
        raise Invalid(exc.message if hasattr(exc, "message") else str(exc), code=exc.code,
                      errors={"body": [str(exc)]}) from None


def _same_scope(values: dict, exclude_id: int | None = None):
    query = select(MessageTemplate.id).where(
        MessageTemplate.kind == values["kind"], MessageTemplate.variant == values["variant"],
        MessageTemplate.session_type_id.is_(None) if values.get("session_type_id") is None
        else MessageTemplate.session_type_id == values["session_type_id"],
        MessageTemplate.location_id.is_(None) if values.get("location_id") is None
        else MessageTemplate.location_id == values["location_id"])
    if exclude_id is not None:
        query = query.where(MessageTemplate.id != exclude_id)
    return db.session.scalar(query.limit(1))


def create(values: dict, actor) -> MessageTemplate:
    with write_transaction():
        records.require_refs(session_type_id=(SessionType, values.get("session_type_id")),
                             location_id=(Location, values.get("location_id")))
        _check(values)
        if _same_scope(values) is not None:
            raise Conflict("A template for this kind, variant and scope exists; PATCH it.", code="duplicate")
        return records.add(MessageTemplate(**values), actor)


def update(template_id: int, body: str, actor, expected_version: int | None) -> MessageTemplate:
    with write_transaction():
        row = records.lock(MessageTemplate, template_id, LABEL)
        records.check_version(row, expected_version)
        _check({"kind": row.kind, "body": body})
        return records.apply(row, {"body": body}, actor)


def delete(template_id: int, actor) -> None:
    with write_transaction():
        records.remove(records.lock(MessageTemplate, template_id, LABEL), actor)


def list_templates(limit: int, after: int | None) -> records.Page:
    return records.page(MessageTemplate, limit, after)


def overrides_for(session_type_id: int, location_id: int) -> dict[str, str]:
    """{kind or "kind.short": body}, the most specific scope winning."""
    rows = db.session.scalars(select(MessageTemplate).where(
        or_(MessageTemplate.session_type_id.is_(None), MessageTemplate.session_type_id == session_type_id),
        or_(MessageTemplate.location_id.is_(None), MessageTemplate.location_id == location_id)))
    ranked = sorted(rows, key=lambda t: (t.session_type_id is not None, t.location_id is not None))
    out = {}
    for t in ranked:  # least specific first: later (more specific) ones overwrite
        out[t.kind if t.variant == "full" else f"{t.kind}.short"] = t.body
    return out
