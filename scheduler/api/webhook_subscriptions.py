"""Webhook subscriptions: signed deliveries of the change feed, their log and replay."""
import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from ..domain.vocabulary import CHANGE_KINDS, DELIVERY_STATUSES
from ..services.calendars import webhook_subscriptions as subscriptions
from .auth import ADMIN, actor, allow
from .common import PageArgs, now, outbound_policy, page, page_of, secret_box
from .fields import Cursor, Instant, OutboundUrl

blp = Blueprint("webhook_subscriptions", __name__, url_prefix="/api/v1", description="Webhook subscriptions")
Int = ma.fields.Integer
Str = ma.fields.String
V = ma.validate


class SubscriptionSchema(ma.Schema):
    id = Int(dump_only=True)
    url = OutboundUrl(required=True, max_length=500)
    events = ma.fields.List(Str(validate=V.OneOf(list(CHANGE_KINDS) + ["*"])),
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
    status = Str(metadata={"enum": list(DELIVERY_STATUSES)})
    attempts = Int()
    next_attempt_at = Instant()
    delivered_at = Instant(allow_none=True)
    last_status = Int(allow_none=True)
    last_error = Str(allow_none=True)
    attempts_log = ma.fields.List(ma.fields.Nested(AttemptSchema), attribute="attempt_log",
                                  metadata={"description": "every HTTP attempt, oldest first"})


class ReplaySchema(ma.Schema):
    since = Cursor(load_default=None, metadata={"description": "a change-feed cursor; absent: everything"})


class ReplayResultSchema(ma.Schema):
    queued = Int()


@blp.route("/webhook-subscriptions")
class Subscriptions(MethodView):
    @allow(*ADMIN)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(SubscriptionSchema))
    def get(self, args):
        return subscriptions.list_subscriptions(*page(args))

    @allow(*ADMIN)
    @blp.arguments(SubscriptionSchema)
    @blp.response(201, SubscriptionSchema)
    def post(self, data):
        return subscriptions.subscribe(data["url"], data["events"], actor(), secret_box(), outbound_policy())


@blp.route("/webhook-subscriptions/<int:sub_id>")
class SubscriptionById(MethodView):
    @allow(*ADMIN)
    @blp.response(200, SubscriptionSchema)
    def get(self, sub_id):
        return subscriptions.subscription(sub_id)

    @allow(*ADMIN)
    @blp.response(204)
    def delete(self, sub_id):
        subscriptions.unsubscribe(sub_id, actor())


@blp.route("/webhook-subscriptions/<int:sub_id>/deliveries")
class Deliveries(MethodView):
    @allow(*ADMIN)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(DeliverySchema))
    def get(self, args, sub_id):
        """The delivery log, oldest first (attempt details per delivery in last_status/last_error)."""
        return subscriptions.deliveries(sub_id, *page(args))


@blp.route("/webhook-subscriptions/<int:sub_id>/replay")
class Replay(MethodView):
    @allow(*ADMIN)
    @blp.arguments(ReplaySchema)
    @blp.response(200, ReplayResultSchema)
    def post(self, data, sub_id):
        return {"queued": subscriptions.replay(sub_id, data["since"] or 0, actor(), now())}
