"""Locations (clinics): zone, state, hours, monitoring ratio, SMS settings."""
import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from ..domain.localtime import WEEKDAYS
from ..domain.vocabulary import SMS_PROFILES
from ..services.clinic import locations
from .auth import ADMIN, STAFF, actor, allow
from .common import PageArgs, expected_version, page, page_of, with_etag
from .fields import Phone, validate_state, validate_timezone, wall_time

blp = Blueprint("locations", __name__, url_prefix="/api/v1", description="Clinics")
Str = ma.fields.String
Int = ma.fields.Integer
V = ma.validate


class OpeningHours(ma.fields.Dict):
    """{"mon": [["08:00", "18:00"]], ...} in the location's wall-clock time."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            raise ma.ValidationError("Expected an object keyed by weekday (mon..sun).")
        result = {}
        for day, spans in value.items():
            if day not in WEEKDAYS:
                raise ma.ValidationError(f"Unknown weekday {str(day)[:10]!r}: use mon..sun.")
            if not isinstance(spans, list) or len(spans) > 6:
                raise ma.ValidationError(f"{day}: expected a list of [open, close] pairs.")
            clean = []
            for span in spans:
                if not isinstance(span, list) or len(span) != 2:
                    raise ma.ValidationError(f"{day}: each span is [\"HH:MM\", \"HH:MM\"].")
                start, end = wall_time(span[0]), wall_time(span[1], end=True)
                if end <= start:
                    raise ma.ValidationError(f"{day}: a span must close after it opens.")
                clean.append(span)
            clean.sort()
            for (_, end), (start, _) in zip(clean, clean[1:]):
                if start < end:
                    raise ma.ValidationError(f"{day}: spans overlap.")
            result[day] = clean
        return result


class LocationSchema(ma.Schema):
    id = Int(dump_only=True)
    name = Str(required=True, validate=V.Length(min=1, max=120))
    slug = Str(required=True, validate=V.Regexp(r"^[a-z0-9][a-z0-9-]{0,59}$",
                                                error="Lower-case letters, digits and dashes."))
    timezone = Str(required=True, validate=validate_timezone)
    state = Str(required=True, validate=validate_state)
    phone = Phone(required=True)
    sms_display_name = Str(required=True, validate=V.Length(min=1, max=60))
    address = Str(validate=V.Length(max=300))
    opening_hours = OpeningHours()
    monitoring_ratio = Int(validate=V.Range(min=1, max=20),
                           metadata={"description": "patients one clinician may monitor at once"})
    turnover_minutes = Int(validate=V.Range(min=0, max=240))
    slot_minutes = Int(validate=V.OneOf([5, 10, 15, 20, 30, 60]))
    quiet_start = Str(validate=wall_time, metadata={"example": "21:00"})
    quiet_end = Str(validate=wall_time, metadata={"example": "08:00"})
    sms_profile = Str(validate=V.OneOf(SMS_PROFILES))
    sms_max_per_day = Int(validate=V.Range(min=1, max=10))
    sms_max_per_week = Int(validate=V.Range(min=1, max=50))
    feed_shows_patient_names = ma.fields.Boolean()
    version = Int(dump_only=True)


@blp.route("/locations")
class Locations(MethodView):
    @allow(*STAFF)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(LocationSchema))
    def get(self, args):
        return locations.list_locations(*page(args))

    @allow(*ADMIN)
    @blp.arguments(LocationSchema)
    @blp.response(201, LocationSchema)
    def post(self, data):
        return with_etag(locations.create_location(data, actor()), 201)


@blp.route("/locations/<int:location_id>")
class LocationById(MethodView):
    @allow(*STAFF)
    @blp.response(200, LocationSchema)
    def get(self, location_id):
        return with_etag(locations.location(location_id))

    @allow(*ADMIN)
    @blp.arguments(LocationSchema(partial=True))
    @blp.response(200, LocationSchema)
    def patch(self, data, location_id):
        version = expected_version("locations", location_id)
        return with_etag(locations.update_location(location_id, data, actor(), version))
