"""Providers' weekly availability rules, per location, in its wall-clock time."""
import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from ..domain.localtime import WEEKDAYS
from ..services.scheduling import availability
from .auth import ADMIN, STAFF, actor, allow
from .common import PageArgs, now, page, page_of, with_etag
from .fields import MAX_ID, WallTime, Weekday, validate_date_range

blp = Blueprint("availability", __name__, url_prefix="/api/v1", description="Weekly availability rules")
V = ma.validate


class RuleSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    provider_id = ma.fields.Integer(dump_only=True)
    location_id = ma.fields.Integer(required=True, validate=V.Range(min=1, max=MAX_ID))
    weekday = Weekday(required=True, metadata={"enum": list(WEEKDAYS)})
    start_time = WallTime(required=True, metadata={"example": "08:00"})
    end_time = WallTime(end=True, required=True, metadata={"example": "17:00"})
    valid_from = ma.fields.Date(allow_none=True, validate=validate_date_range)
    valid_until = ma.fields.Date(allow_none=True, validate=validate_date_range)

    @ma.validates_schema
    def _order(self, data, **kwargs):
        if data["end_time"] <= data["start_time"]:
            raise ma.ValidationError("Must be after start_time.", "end_time")
        vf, vu = data.get("valid_from"), data.get("valid_until")
        if vf and vu and vu < vf:
            raise ma.ValidationError("Must not be before valid_from.", "valid_until")


@blp.route("/providers/<int:provider_id>/availability")
class Availability(MethodView):
    @allow(*STAFF)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(RuleSchema))
    def get(self, args, provider_id):
        return availability.list_rules(provider_id, *page(args))

    @allow(*ADMIN)
    @blp.arguments(RuleSchema)
    @blp.response(201, RuleSchema)
    def post(self, data, provider_id):
        return with_etag(availability.add_rule(provider_id, data, actor(), now()), 201)


@blp.route("/providers/<int:provider_id>/availability/<int:rule_id>")
class AvailabilityById(MethodView):
    @allow(*ADMIN)
    @blp.response(204)
    def delete(self, provider_id, rule_id):
        availability.remove_rule(provider_id, rule_id, actor(), now())
