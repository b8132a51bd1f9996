"""Appointments: book, the day sheet, move, cancel and the status transitions."""
import marshmallow as ma
from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from ..domain.vocabulary import APPOINTMENT_STATUSES as STATUSES
from ..services.platform.idempotency import Idempotency
from ..services.scheduling import appointments, booking
from .auth import STAFF, actor, allow, current_caller
from .common import PageArgs, expected_version, now, page, page_of, with_etag
from .fields import MAX_ID, Instant, validate_date_range
from .messages import MessageSchema

blp = Blueprint("appointments", __name__, url_prefix="/api/v1", description="Appointments")
Str = ma.fields.String
Int = ma.fields.Integer
V = ma.validate


class SessionTypeCode(ma.fields.String):
    """A session type by its code: loaded as the code, dumped from the related row."""

    def _serialize(self, value, attr, obj, **kwargs):
        return getattr(value, "code", value)


class PersonSchema(ma.Schema):
    id = Int()
    name = Str()


class AppointmentCheckpointSchema(ma.Schema):
    label = Str()
    at = Instant()


class AppointmentSchema(ma.Schema):
    id = Int(dump_only=True)
    patient_id = Int(required=True, validate=V.Range(min=1, max=MAX_ID))
    session_type = SessionTypeCode(required=True, validate=V.Length(min=1, max=40),
                       metadata={"example": "ketamine_iv"})
    location_id = Int(required=True, validate=V.Range(min=1, max=MAX_ID))
    start = Instant(required=True)
    provider_id = Int(allow_none=True, validate=V.Range(min=1, max=MAX_ID),
                      metadata={"description": "chosen (least loaded) when absent"})
    room_id = Int(allow_none=True, validate=V.Range(min=1, max=MAX_ID),
                  metadata={"description": "chosen when absent; none for telehealth"})
    telehealth = ma.fields.Boolean(load_default=False)
    ride_arranged = ma.fields.Boolean(allow_none=True)
    notes = Str(load_default="", validate=V.Length(max=2000))
    follows_appointment_id = Int(allow_none=True, validate=V.Range(min=1, max=MAX_ID))
    # Read-only: the phases and state.
    end = Instant(dump_only=True, metadata={"description": "end of chair time for dosing"})
    administering_end = Instant(dump_only=True)
    monitoring_start = Instant(dump_only=True, allow_none=True)
    monitoring_end = Instant(dump_only=True, allow_none=True)
    status = Str(dump_only=True, metadata={"enum": list(STATUSES)})
    confirmed = ma.fields.Boolean(dump_only=True)
    confirmed_at = Instant(dump_only=True, allow_none=True)
    cancel_reason = Str(dump_only=True, allow_none=True)
    conflict = ma.fields.Boolean(dump_only=True)
    conflict_reason = Str(dump_only=True, allow_none=True)
    patient = ma.fields.Nested(PersonSchema, dump_only=True)
    provider = ma.fields.Nested(PersonSchema, dump_only=True)
    room = ma.fields.Nested(PersonSchema, dump_only=True, allow_none=True)
    checkpoints = ma.fields.List(ma.fields.Nested(AppointmentCheckpointSchema), dump_only=True)
    messages = ma.fields.List(ma.fields.Nested(MessageSchema), dump_only=True)
    version = Int(dump_only=True)


class AppointmentPatchSchema(ma.Schema):
    start = Instant()
    provider_id = Int(validate=V.Range(min=1, max=MAX_ID))
    room_id = Int(allow_none=True, validate=V.Range(min=1, max=MAX_ID))
    notes = Str(validate=V.Length(max=2000))
    ride_arranged = ma.fields.Boolean(allow_none=True)


class AppointmentQuery(PageArgs):
    location_id = Int(validate=V.Range(min=1, max=MAX_ID))
    date = ma.fields.Date(validate=validate_date_range,
                          metadata={"description": "a local date at the location (day sheet)"})
    provider_id = Int(validate=V.Range(min=1, max=MAX_ID))
    patient_id = Int(validate=V.Range(min=1, max=MAX_ID))
    status = Str(validate=V.OneOf(STATUSES))

    @ma.validates_schema
    def _day_needs_location(self, data, **kwargs):
        if "date" in data and "location_id" not in data:
            raise ma.ValidationError("A day sheet needs location_id.", "date")


class CancelSchema(ma.Schema):
    reason = Str(required=True, validate=V.Length(min=1, max=500))


IDEMPOTENCY_HEADER = "Idempotency-Key"


def _idempotency() -> Idempotency | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    return Idempotency(current_caller().id, key, request.get_json(silent=True) or {}, field=IDEMPOTENCY_HEADER)


@blp.route("/appointments")
class Appointments(MethodView):
    @allow(*STAFF)
    @blp.arguments(AppointmentQuery, location="query")
    @blp.response(200, page_of(AppointmentSchema))
    def get(self, args):
        filters = {k: args.get(k) for k in appointments.FILTERS}
        if "date" in args:
            return appointments.day_sheet(filters.pop("location_id"), args["date"], **filters)
        return appointments.search(*page(args), **filters)

    @allow(*STAFF)
    @blp.arguments(AppointmentSchema)
    @blp.response(201, AppointmentSchema)
    def post(self, data):
        req = booking.BookingRequest(
            patient_id=data["patient_id"], session_type=data["session_type"],
            location_id=data["location_id"], start=data["start"], provider_id=data.get("provider_id"),
            room_id=data.get("room_id"), telehealth=data["telehealth"],
            ride_arranged=data.get("ride_arranged"), notes=data["notes"],
            follows_appointment_id=data.get("follows_appointment_id"))
        appt, replayed = booking.book(req, actor(), now(), _idempotency())
        obj, status, headers = with_etag(appointments.appointment(appt.id), 201)
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return obj, status, headers


@blp.route("/appointments/<int:appointment_id>")
class AppointmentById(MethodView):
    @allow(*STAFF)
    @blp.response(200, AppointmentSchema)
    def get(self, appointment_id):
        return with_etag(appointments.appointment(appointment_id))

    @allow(*STAFF)
    @blp.arguments(AppointmentPatchSchema)
    @blp.response(200, AppointmentSchema)
    def patch(self, data, appointment_id):
        version = expected_version("appointments", appointment_id)
        booking.update(appointment_id, data, actor(), now(), version)
        return with_etag(appointments.appointment(appointment_id))


@blp.route("/appointments/<int:appointment_id>/cancel")
class AppointmentCancel(MethodView):
    @allow(*STAFF)
    @blp.arguments(CancelSchema)
    @blp.response(200, AppointmentSchema)
    def post(self, data, appointment_id):
        """Cancel (kept, never deleted): frees every resource, voids planned texts, sends one notice."""
        return with_etag(booking.transition(appointment_id, "cancel", actor(), now(), reason=data["reason"]))


@blp.route("/appointments/<int:appointment_id>/check-in")
class AppointmentCheckIn(MethodView):
    @allow(*STAFF)
    @blp.response(200, AppointmentSchema)
    def post(self, appointment_id):
        """booked -> checked-in, on the day of the appointment."""
        return with_etag(booking.transition(appointment_id, "check_in", actor(), now()))


@blp.route("/appointments/<int:appointment_id>/complete")
class AppointmentComplete(MethodView):
    @allow(*STAFF)
    @blp.response(200, AppointmentSchema)
    def post(self, appointment_id):
        """checked-in -> fulfilled, once the session has started."""
        return with_etag(booking.transition(appointment_id, "complete", actor(), now()))


@blp.route("/appointments/<int:appointment_id>/no-show")
class AppointmentNoShow(MethodView):
    @allow(*STAFF)
    @blp.response(200, AppointmentSchema)
    def post(self, appointment_id):
        """booked -> noshow, once the start has passed; planned texts are voided."""
        return with_etag(booking.transition(appointment_id, "no_show", actor(), now()))
