"""iCalendar feeds (outside /api/v1): a provider's, a room's or a location's sessions,
opened by a token an admin issued for exactly that feed."""
from flask import Blueprint, Response, abort, request

from ..services.calendars import feeds
from .common import now

blp = Blueprint("feeds", __name__, url_prefix="/calendar")


def _feed(kind: str, subject_id: int):
    # A wrong, revoked or foreign token answers exactly like a missing feed.
    if not feeds.check_token(kind, subject_id, request.args.get("token")):
        abort(404)
    etag = feeds.fingerprint(kind, subject_id, now())
    # If-None-Match compares weakly (RFC 9110 13.1.2): W/"x" matches "x".
    if request.if_none_match.contains_weak(etag.strip('"')):
        return Response(status=304, headers={"ETag": etag})
    body = feeds.feed(kind, subject_id, now())
    return Response(body, mimetype="text/calendar", headers={
        "ETag": etag, "Cache-Control": "private, max-age=60",
        "Content-Disposition": f'inline; filename="{kind.split("_")[0]}-{subject_id}.ics"'})


@blp.get("/providers/<int:subject_id>.ics")
def provider_feed(subject_id):
    return _feed("provider_id", subject_id)


@blp.get("/rooms/<int:subject_id>.ics")
def room_feed(subject_id):
    return _feed("room_id", subject_id)


@blp.get("/locations/<int:subject_id>.ics")
def location_feed(subject_id):
    return _feed("location_id", subject_id)


provider_feed.allowed_roles = room_feed.allowed_roles = location_feed.allowed_roles = frozenset({"feed-token"})
