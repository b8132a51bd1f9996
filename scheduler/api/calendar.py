"""Calendar integration over HTTP: feed tokens and feeds, free/busy, the change feed,
webhook subscriptions, and providers' external calendars."""
import marshmallow as ma
from flask import Blueprint as FlaskBlueprint, Response, abort, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy.orm import selectinload

from ..models import CalendarToken, ExternalCalendar, Provider, WebhookDelivery, WebhookSubscription
from ..services.calendars import calendar_sync, changefeed, feeds, webhooks_out
from ..services.platform import records
from .auth import ADMIN, ANY_ROLE, STAFF, actor, allow
from .common import PageArgs, page_of, paginate
from .fields import MAX_ID, Instant, decode_cursor, encode_cursor

blp = Blueprint("calendar", __name__, url_prefix="/api/v1", description="Calendar integration")
feeds_bp = FlaskBlueprint("feeds", __name__, url_prefix="/calendar")
Int = ma.fields.Integer
Str = ma.fields.String
V = ma.validate


# Checked by the service against the outbound policy (adapters/outbound.py), so every
# refusal says why: 422 with code outbound_refused and the reason under "url".
OUTBOUND_URL = {"format": "uri", "description": "http or https, to a public address (or a host in "
                "OUTBOUND_ALLOWED_HOSTS); loopback, private, link-local and similar addresses are refused"}


def _now():
    return current_app.extensions["clock"].now()


# ---------------------------------------------------------------- tokens and feeds
class TokenRequestSchema(ma.Schema):
    provider_id = Int(validate=V.Range(min=1, max=MAX_ID))
    room_id = Int(validate=V.Range(min=1, max=MAX_ID))
    location_id = Int(validate=V.Range(min=1, max=MAX_ID))

    @ma.validates_schema
    def _one(self, data, **kwargs):
        if len(data) != 1:
            raise ma.ValidationError("Give exactly one of provider_id, room_id, location_id.", "_schema")


class TokenSchema(ma.Schema):
    id = Int()
    provider_id = Int(allow_none=True)
    room_id = Int(allow_none=True)
    location_id = Int(allow_none=True)
    token = Str(metadata={"description": "shown once"})
    url = Str(metadata={"description": "the feed's address, token included"})
    revoked_at = Instant(allow_none=True)


@blp.route("/calendar-tokens")
class CalendarTokens(MethodView):
    @allow(*ADMIN)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(TokenSchema))
    def get(self, args):
        return paginate(CalendarToken, args)

    @allow(*ADMIN)
    @blp.arguments(TokenRequestSchema)
    @blp.response(201, TokenSchema)
    def post(self, data):
        (subject, subject_id), = data.items()
        row, token, url = feeds.issue_token(subject, subject_id, actor())
        return {"id": row.id, subject: subject_id, "token": token, "url": url}


@blp.route("/calendar-tokens/<int:token_id>")
class CalendarTokenById(MethodView):
    @allow(*ADMIN)
    @blp.response(204)
    def delete(self, token_id):
        feeds.revoke_token(token_id, actor(), _now())


def _feed(kind: str, subject_id: int):
    # A wrong, revoked or foreign token answers exactly like a missing feed.
    if not feeds.check_token(kind, subject_id, request.args.get("token")):
        abort(404)
    etag = feeds.fingerprint(kind, subject_id, _now())
    # If-None-Match compares weakly (RFC 9110 13.1.2): W/"x" matches "x".
    if request.if_none_match.contains_weak(etag.strip('"')):
        return Response(status=304, headers={"ETag": etag})
    body = feeds.feed(kind, subject_id, _now())
    return Response(body, mimetype="text/calendar", headers={
        "ETag": etag, "Cache-Control": "private, max-age=60",
        "Content-Disposition": f'inline; filename="{kind.split("_")[0]}-{subject_id}.ics"'})


@feeds_bp.get("/providers/<int:subject_id>.ics")
def provider_feed(subject_id):
    return _feed("provider_id", subject_id)


@feeds_bp.get("/rooms/<int:subject_id>.ics")
def room_feed(subject_id):
    return _feed("room_id", subject_id)


@feeds_bp.get("/locations/<int:subject_id>.ics")
def location_feed(subject_id):
    return _feed("location_id", subject_id)


provider_feed.allowed_roles = room_feed.allowed_roles = location_feed.allowed_roles = frozenset({"feed-token"})


# ---------------------------------------------------------------- free/busy
class BusyQuery(ma.Schema):
    start = Instant(required=True)
    end = Instant(required=True)
    format = Str(load_default="json", validate=V.OneOf(["json", "ics"]),
                 metadata={"description": "ics: a VFREEBUSY (also chosen by Accept: text/calendar)"})


class BusyItemSchema(ma.Schema):
    start = Instant()
    end = Instant()
    source = Str(metadata={"enum": ["appointment", "time_off", "external"]})


class BusySchema(ma.Schema):
    busy = ma.fields.List(ma.fields.Nested(BusyItemSchema), required=True)


@blp.route("/providers/<int:provider_id>/busy")
class ProviderBusy(MethodView):
    @allow(*ANY_ROLE)
    @blp.arguments(BusyQuery, location="query")
    @blp.response(200, BusySchema)
    @blp.alt_response(200, description="VFREEBUSY (text/calendar)", content_type="text/calendar",
                      success=True)
    def get(self, args, provider_id):
        wants_ics = args["format"] == "ics" or request.accept_mimetypes.best == "text/calendar"
        if wants_ics:
            body = feeds.freebusy_ics(provider_id, args["start"], args["end"])
            return Response(body, mimetype="text/calendar")
        return {"busy": feeds.busy(provider_id, args["start"], args["end"])}


# ---------------------------------------------------------------- change feed
class ChangesQuery(ma.Schema):
    since = Str(load_default=None, validate=V.Length(max=100),
                metadata={"description": "the next_cursor of the previous page; absent: from the start"})
    limit = Int(load_default=100, validate=V.Range(min=1, max=500))
    provider_id = Int(validate=V.Range(min=1, max=MAX_ID))
    location_id = Int(validate=V.Range(min=1, max=MAX_ID))

    @ma.validates("since")
    def _since(self, value, **kwargs):
        if value is not None:
            decode_cursor(value)


class ChangeSchema(ma.Schema):
    id = Int()
    kind = Str()
    at = Instant()
    entity_type = Str()
    entity_id = Int(allow_none=True)
    provider_id = Int(allow_none=True)
    room_id = Int(allow_none=True)
    location_id = Int(allow_none=True)
    start = Instant(attribute="start_at", allow_none=True)
    end = Instant(attribute="end_at", allow_none=True)
    data = ma.fields.Dict()


class ChangesSchema(ma.Schema):
    changes = ma.fields.List(ma.fields.Nested(ChangeSchema), required=True)
    next_cursor = Str(required=True, metadata={"description": "pass as since= to continue; stable when empty"})


@blp.route("/changes")
class Changes(MethodView):
    @allow(*ANY_ROLE)
    @blp.arguments(ChangesQuery, location="query")
    @blp.response(200, ChangesSchema)
    def get(self, args):
        since = decode_cursor(args["since"]) if args["since"] else 0
        rows = changefeed.page(since, args["limit"], args.get("provider_id"), args.get("location_id"))
        return {"changes": rows, "next_cursor": encode_cursor(rows[-1].id if rows else since)}


# ---------------------------------------------------------------- webhooks out
class SubscriptionSchema(ma.Schema):
    id = Int(dump_only=True)
    url = Str(required=True, validate=V.Length(min=1, max=500), metadata=OUTBOUND_URL)
    events = ma.fields.List(Str(validate=V.OneOf(list(webhooks_out.EVENT_KINDS) + ["*"])),
                            required=True, validate=V.Length(min=1, max=20))
    secret = Str(dump_only=True, metadata={"description": "HMAC-SHA256 signing secret, shown once"})
    active = ma.fields.Boolean(dump_only=True)
    failing_since = Instant(dump_only=True, allow_none=True)
    last_error = Str(dump_only=True, allow_none=True)
    backlog = Int(dump_only=True)


class AttemptSchema(ma.Schema):
    at = Instant()
    status_code = Int(allow_none=True)
    error = Str(allow_none=True)
    duration_ms = Int(allow_none=True)


class DeliverySchema(ma.Schema):
    id = Int()
    change_id = Int()
    status = Str(metadata={"enum": ["pending", "delivered", "dead"]})
    attempts = Int()
    next_attempt_at = Instant()
    delivered_at = Instant(allow_none=True)
    last_status = Int(allow_none=True)
    last_error = Str(allow_none=True)
    attempts_log = ma.fields.List(ma.fields.Nested(AttemptSchema), attribute="attempt_log",
                                  metadata={"description": "every HTTP attempt, oldest first"})


class ReplaySchema(ma.Schema):
    since = Str(load_default=None, metadata={"description": "a change-feed cursor; absent: everything"})

    @ma.validates("since")
    def _since(self, value, **kwargs):
        if value is not None:
            decode_cursor(value)


class ReplayResultSchema(ma.Schema):
    queued = Int()


def _with_backlog(items):
    counts = webhooks_out.backlog()
    for sub in items:
        sub.backlog = counts.get(sub.id, 0)
    return items


@blp.route("/webhook-subscriptions")
class Subscriptions(MethodView):
    @allow(*ADMIN)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(SubscriptionSchema))
    def get(self, args):
        page = paginate(WebhookSubscription, args)
        _with_backlog(page["items"])
        return page

    @allow(*ADMIN)
    @blp.arguments(SubscriptionSchema)
    @blp.response(201, SubscriptionSchema)
    def post(self, data):
        sub, secret = webhooks_out.subscribe(data["url"], data["events"], actor())
        sub.secret, sub.backlog = secret, 0
        return sub


@blp.route("/webhook-subscriptions/<int:sub_id>")
class SubscriptionById(MethodView):
    @allow(*ADMIN)
    @blp.response(200, SubscriptionSchema)
    def get(self, sub_id):
        return _with_backlog([records.get(WebhookSubscription, sub_id, "webhook subscription")])[0]

    @allow(*ADMIN)
    @blp.response(204)
    def delete(self, sub_id):
        webhooks_out.unsubscribe(sub_id, actor())


@blp.route("/webhook-subscriptions/<int:sub_id>/deliveries")
class Deliveries(MethodView):
    @allow(*ADMIN)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(DeliverySchema))
    def get(self, args, sub_id):
        """The delivery log, oldest first (attempt details per delivery in last_status/last_error)."""
        records.get(WebhookSubscription, sub_id, "webhook subscription")
        return paginate(WebhookDelivery, args, WebhookDelivery.subscription_id == sub_id,
                        options=(selectinload(WebhookDelivery.attempt_log),))


@blp.route("/webhook-subscriptions/<int:sub_id>/replay")
class Replay(MethodView):
    @allow(*ADMIN)
    @blp.arguments(ReplaySchema)
    @blp.response(200, ReplayResultSchema)
    def post(self, data, sub_id):
        since = decode_cursor(data["since"]) if data["since"] else 0
        return {"queued": webhooks_out.replay(sub_id, since, actor(), _now())}


# ---------------------------------------------------------------- external calendars
class ExternalCalendarSchema(ma.Schema):
    id = Int(dump_only=True)
    provider_id = Int(dump_only=True)
    kind = Str(required=True, validate=V.OneOf(["caldav", "ics"]))
    url = Str(required=True, validate=V.Length(min=1, max=1000), metadata=OUTBOUND_URL)
    username = Str(allow_none=True, validate=V.Length(max=200))
    password = Str(load_only=True, allow_none=True, validate=V.Length(max=500))
    last_synced_at = Instant(dump_only=True, allow_none=True)
    last_error = Str(dump_only=True, allow_none=True)
    failures = Int(dump_only=True)


class SyncResultSchema(ma.Schema):
    calendar_id = Int()
    blocks = Int()
    not_modified = ma.fields.Boolean()
    conflicts = ma.fields.List(Int(), metadata={"description": "appointments newly flagged"})


@blp.route("/providers/<int:provider_id>/external-calendars")
class ExternalCalendars(MethodView):
    @allow(*STAFF)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(ExternalCalendarSchema))
    def get(self, args, provider_id):
        records.get(Provider, provider_id)
        return paginate(ExternalCalendar, args, ExternalCalendar.provider_id == provider_id)

    @allow(*STAFF)
    @blp.arguments(ExternalCalendarSchema)
    @blp.response(201, ExternalCalendarSchema)
    def post(self, data, provider_id):
        return calendar_sync.link_calendar(provider_id, data, actor(), _now())


@blp.route("/providers/<int:provider_id>/external-calendars/<int:calendar_id>")
class ExternalCalendarById(MethodView):
    @allow(*STAFF)
    @blp.response(204)
    def delete(self, provider_id, calendar_id):
        calendar_sync.unlink_calendar(provider_id, calendar_id, actor(), _now())


@blp.route("/providers/<int:provider_id>/external-calendars/<int:calendar_id>/sync")
class ExternalCalendarSync(MethodView):
    @allow(*STAFF)
    @blp.response(200, SyncResultSchema)
    @blp.alt_response(502, description="calendar_unreachable: the old busy blocks are kept")
    def post(self, provider_id, calendar_id):
        return calendar_sync.sync_calendar(calendar_id, _now(), provider_id=provider_id)


def register(app, api):
    api.register_blueprint(blp)
    app.register_blueprint(feeds_bp)

