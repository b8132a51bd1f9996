"""Providers, their weekly availability rules and their time off."""
import marshmallow as ma
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy.orm import selectinload

from ..domain.localtime import WEEKDAYS
from ..domain.vocabulary import CAPABILITIES
from ..models import AvailabilityRule, Provider, TimeOff
from ..services.platform import records
from ..services.scheduling import availability
from .auth import ADMIN, STAFF, actor, allow
from .common import PageArgs, expected_version, page_of, paginate, with_etag
from .fields import MAX_ID, Instant, Phone, WallTime, Weekday, validate_date_range, validate_state

blp = Blueprint("providers", __name__, url_prefix="/api/v1",
                description="Providers, availability and time off")
Str = ma.fields.String
Int = ma.fields.Integer
V = ma.validate


def _now():
    return current_app.extensions["clock"].now()


def _unique(values):
    if len(set(values)) != len(values):
        raise ma.ValidationError("Values must not repeat.")


class ProviderSchema(ma.Schema):
    id = Int(dump_only=True)
    name = Str(required=True, validate=V.Length(min=1, max=120))
    capabilities = ma.fields.List(
        Str(validate=V.OneOf(CAPABILITIES)), required=True,
        validate=[V.Length(min=1, max=3), _unique])
    licensed_states = ma.fields.List(Str(validate=validate_state), required=True,
                                     validate=[V.Length(min=1, max=60), _unique])
    phone = Phone(allow_none=True)
    active = ma.fields.Boolean()
    calendars_failing = Int(dump_only=True, metadata={
        "description": "linked external calendars whose last sync failed"})
    version = Int(dump_only=True)


class RuleSchema(ma.Schema):
    id = Int(dump_only=True)
    provider_id = Int(dump_only=True)
    location_id = Int(required=True, validate=V.Range(min=1, max=MAX_ID))
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


class TimeOffSchema(ma.Schema):
    id = Int(dump_only=True)
    provider_id = Int(dump_only=True)
    start = Instant(required=True, attribute="start_at")
    end = Instant(required=True, attribute="end_at")
    reason = Str(validate=V.Length(max=200))

    @ma.validates_schema
    def _order(self, data, **kwargs):
        if data["end_at"] <= data["start_at"]:
            raise ma.ValidationError("Must be after start.", "end")
        if (data["end_at"] - data["start_at"]).days > 366:
            raise ma.ValidationError("Time off is at most 366 days per entry.", "end")


@blp.route("/providers")
class Providers(MethodView):
    @allow(*STAFF)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(ProviderSchema))
    def get(self, args):
        return paginate(Provider, args, options=(selectinload(Provider.external_calendars),))

    @allow(*ADMIN)
    @blp.arguments(ProviderSchema)
    @blp.response(201, ProviderSchema)
    def post(self, data):
        return with_etag(records.create(Provider, data, actor()), 201)


@blp.route("/providers/<int:provider_id>")
class ProviderById(MethodView):
    @allow(*STAFF)
    @blp.response(200, ProviderSchema)
    def get(self, provider_id):
        return with_etag(records.get(Provider, provider_id))

    @allow(*ADMIN)
    @blp.arguments(ProviderSchema(partial=True))
    @blp.response(200, ProviderSchema)
    def patch(self, data, provider_id):
        version = expected_version("providers", provider_id)
        return with_etag(records.update(Provider, provider_id, data, actor(), version,
                                        check=availability.check_provider_change))


@blp.route("/providers/<int:provider_id>/availability")
class Availability(MethodView):
    @allow(*STAFF)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(RuleSchema))
    def get(self, args, provider_id):
        records.get(Provider, provider_id)
        return paginate(AvailabilityRule, args, AvailabilityRule.provider_id == provider_id)

    @allow(*ADMIN)
    @blp.arguments(RuleSchema)
    @blp.response(201, RuleSchema)
    def post(self, data, provider_id):
        return with_etag(availability.add_rule(provider_id, data, actor(), _now()), 201)


@blp.route("/providers/<int:provider_id>/availability/<int:rule_id>")
class AvailabilityById(MethodView):
    @allow(*ADMIN)
    @blp.response(204)
    def delete(self, provider_id, rule_id):
        availability.remove_rule(provider_id, rule_id, actor(), _now())


@blp.route("/providers/<int:provider_id>/time-off")
class TimeOffList(MethodView):
    @allow(*STAFF)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(TimeOffSchema))
    def get(self, args, provider_id):
        records.get(Provider, provider_id)
        return paginate(TimeOff, args, TimeOff.provider_id == provider_id)

    @allow(*STAFF)
    @blp.arguments(TimeOffSchema)
    @blp.response(201, TimeOffSchema)
    def post(self, data, provider_id):
        return with_etag(availability.add_time_off(provider_id, data, actor(), _now()), 201)


@blp.route("/providers/<int:provider_id>/time-off/<int:time_off_id>")
class TimeOffById(MethodView):
    @allow(*STAFF)
    @blp.response(204)
    def delete(self, provider_id, time_off_id):
        availability.remove_time_off(provider_id, time_off_id, actor(), _now())
