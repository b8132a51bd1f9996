"""Providers' time off."""
import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from ..services.scheduling import availability
from .auth import STAFF, actor, allow
from .common import PageArgs, now, page, page_of, with_etag
from .fields import Instant

blp = Blueprint("time_off", __name__, url_prefix="/api/v1", description="Time off")


class TimeOffSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    provider_id = ma.fields.Integer(dump_only=True)
    start = Instant(required=True, attribute="start_at")
    end = Instant(required=True, attribute="end_at")
    reason = ma.fields.String(validate=ma.validate.Length(max=200))

    @ma.validates_schema
    def _order(self, data, **kwargs):
        if data["end_at"] <= data["start_at"]:
            raise ma.ValidationError("Must be after start.", "end")
        if (data["end_at"] - data["start_at"]).days > 366:
            raise ma.ValidationError("Time off is at most 366 days per entry.", "end")


@blp.route("/providers/<int:provider_id>/time-off")
class TimeOffList(MethodView):
    @allow(*STAFF)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(TimeOffSchema))
    def get(self, args, provider_id):
        return availability.list_time_off(provider_id, *page(args))

    @allow(*STAFF)
    @blp.arguments(TimeOffSchema)
    @blp.response(201, TimeOffSchema)
    def post(self, data, provider_id):
        return with_etag(availability.add_time_off(provider_id, data, actor(), now()), 201)


@blp.route("/providers/<int:provider_id>/time-off/<int:time_off_id>")
class TimeOffById(MethodView):
    @allow(*STAFF)
    @blp.response(204)
    def delete(self, provider_id, time_off_id):
        availability.remove_time_off(provider_id, time_off_id, actor(), now())
