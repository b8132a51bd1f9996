"""Pagination, ETags and If-Match: the conventions every resource shares."""
import marshmallow as ma
from flask import request
from sqlalchemy import select

from ..domain.errors import PreconditionFailed
from ..extensions import db
from .fields import decode_cursor, encode_cursor

MAX_LIMIT = 200


class PageArgs(ma.Schema):
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=MAX_LIMIT))
    cursor = ma.fields.String(load_default=None, validate=ma.validate.Length(max=100))

    @ma.validates("cursor")
    def _cursor(self, value, **kwargs):
        if value is not None:
            decode_cursor(value)


_page_schemas: dict = {}


def page_of(item_schema: type[ma.Schema]) -> type[ma.Schema]:
    """The list envelope {"items": [...], "next_cursor": ...} for one item schema."""
    name = item_schema.__name__.replace("Schema", "") + "PageSchema"
    if name not in _page_schemas:
        _page_schemas[name] = type(name, (ma.Schema,), {
            "items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
            "next_cursor": ma.fields.String(allow_none=True, required=True),
        })
    return _page_schemas[name]


def paginate(model, args: dict, *filters, options=()):
    """Keyset pagination by id: stable under inserts, one query per page."""
    query = select(model).where(*filters).order_by(model.id).limit(args["limit"] + 1)
    if args.get("cursor"):
        query = query.where(model.id > decode_cursor(args["cursor"]))
    rows = list(db.session.scalars(query.options(*options)))
    more = len(rows) > args["limit"]
    rows = rows[: args["limit"]]
    return {"items": rows, "next_cursor": encode_cursor(rows[-1].id) if more and rows else None}


def etag_of(obj) -> str:
    return f'"{obj.__tablename__}-{obj.id}-v{obj.version}"'


def expected_version(obj_type: str, obj_id: int) -> int | None:
    """The version named by If-Match (None when absent or "*")."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    wanted = f"{obj_type}-{obj_id}-v"
    for tag in request.if_match.as_set():
        if tag.startswith(wanted) and tag[len(wanted):].isdigit():
            return int(tag[len(wanted):])
    raise PreconditionFailed("If-Match does not match this resource's current ETag.")


def with_etag(obj, status: int = 200):
    return obj, status, {"ETag": etag_of(obj)}
