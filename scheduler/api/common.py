"""The conventions every resource shares: pages, ETags and If-Match, and what a view hands
to a service from the app (the clock's now, the secret box, the public address, the
outbound policy)."""
from __future__ import annotations

import datetime as dt

import marshmallow as ma
from flask import current_app, request

from ..adapters.outbound import OutboundPolicy
from ..domain.errors import PreconditionFailed
from .fields import Cursor

MAX_LIMIT = 200


class PageArgs(ma.Schema):
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=MAX_LIMIT))
    cursor = Cursor(load_default=None)


_page_schemas: dict = {}


def page_of(item_schema: type[ma.Schema]) -> type[ma.Schema]:
    """The list envelope {"items": [...], "next_cursor": ...} for one item schema; it dumps
    a service's Page (items, next_after)."""
    name = item_schema.__name__.replace("Schema", "") + "PageSchema"
    if name not in _page_schemas:
        _page_schemas[name] = type(name, (ma.Schema,), {
            "items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
            "next_cursor": Cursor(attribute="next_after", allow_none=True, required=True),
        })
    return _page_schemas[name]


def page(args: dict) -> tuple[int, int | None]:
    """(limit, after) of a list request, for the service."""
    return args["limit"], args.get("cursor")


def etag_of(obj) -> str:
    # etag_extra: derived state shown with the row (an appointment's flags), not versioned.
    return f'"{obj.__tablename__}-{obj.id}-v{obj.version}{getattr(obj, "etag_extra", "")}"'


def expected_version(obj_type: str, obj_id: int) -> int | None:
    """The version named by If-Match (None when absent or "*"). A tag's derived suffix
    (etag_extra) is not compared: If-Match guards what the client edits."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    wanted = f"{obj_type}-{obj_id}-v"
    for tag in request.if_match.as_set():
        version = tag[len(wanted):].split("-", 1)[0]
        if tag.startswith(wanted) and version.isdigit():
            return int(version)
    raise PreconditionFailed("If-Match does not match this resource's current ETag.")


def with_etag(obj, status: int = 200):
    return obj, status, {"ETag": etag_of(obj)}


def now() -> dt.datetime:
    return current_app.extensions["clock"].now()


def secret_box():
    return current_app.extensions["secret_box"]


def public_base_url() -> str:
    return current_app.extensions["settings"].public_base_url


def outbound_policy() -> OutboundPolicy:
    """The operator's policy for requests to URLs callers give us (OUTBOUND_ALLOWED_HOSTS)."""
    return OutboundPolicy(current_app.extensions["settings"].outbound_allowed_hosts)


def calendar_max_occurrences() -> int:
    return current_app.extensions["settings"].calendar_max_occurrences
