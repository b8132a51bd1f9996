"""Providers' external calendars (CalDAV or an ICS URL): busy time in, and sync now."""
import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from ..domain.vocabulary import CALENDAR_KINDS
from ..services.calendars import external_calendars
from .auth import STAFF, actor, allow
from .common import PageArgs, calendar_max_occurrences, now, outbound_policy, page, page_of, secret_box
from .fields import Instant, OutboundUrl

blp = Blueprint("external_calendars", __name__, url_prefix="/api/v1", description="External calendars")
Int = ma.fields.Integer
Str = ma.fields.String
V = ma.validate


class ExternalCalendarSchema(ma.Schema):
    id = Int(dump_only=True)
    provider_id = Int(dump_only=True)
    kind = Str(required=True, validate=V.OneOf(CALENDAR_KINDS))
    url = OutboundUrl(required=True, max_length=1000)
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
        return external_calendars.list_calendars(provider_id, *page(args))

    @allow(*STAFF)
    @blp.arguments(ExternalCalendarSchema)
    @blp.response(201, ExternalCalendarSchema)
    def post(self, data, provider_id):
        return external_calendars.link_calendar(provider_id, data, actor(), now(), secret_box(),
                                                outbound_policy())


@blp.route("/providers/<int:provider_id>/external-calendars/<int:calendar_id>")
class ExternalCalendarById(MethodView):
    @allow(*STAFF)
    @blp.response(204)
    def delete(self, provider_id, calendar_id):
        external_calendars.unlink_calendar(provider_id, calendar_id, actor(), now())


@blp.route("/providers/<int:provider_id>/external-calendars/<int:calendar_id>/sync")
class ExternalCalendarSync(MethodView):
    @allow(*STAFF)
    @blp.response(200, SyncResultSchema)
    @blp.alt_response(502, description="calendar_unreachable (or outbound_refused, too_many_occurrences): "
                      "the old busy blocks are kept")
    def post(self, provider_id, calendar_id):
        return external_calendars.sync_calendar(calendar_id, now(), secret_box(), outbound_policy(),
                                                max_occurrences=calendar_max_occurrences(),
                                                provider_id=provider_id)
