"""Appointments: book, the day sheet, move, cancel and the status transitions."""
import marshmallow as ma
from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from ..domain.localtime import local_day_window
from ..extensions import db
from ..domain.vocabulary import APPOINTMENT_STATUSES as STATUSES
from ..models import Appointment, Location
from ..services.platform import records
from ..services.scheduling import booking
from ..services.platform.idempotency import Idempotency
from .auth import STAFF, actor, allow, current_caller
from .common import PageArgs, expected_version, page_of, paginate, with_etag
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


def _now():
    return current_app.extensions["clock"].now()


def _loaded(appointment_id: int) -> Appointment:
    """The appointment with everything the response shows, in two queries (not eight lazy ones)."""
    return db.session.scalars(select(Appointment).where(Appointment.id == appointment_id)
                              .options(*LOAD)).unique().one()


LOAD = (joinedload(Appointment.patient), joinedload(Appointment.provider), joinedload(Appointment.room),
        joinedload(Appointment.location), joinedload(Appointment.session_type),
        selectinload(Appointment.messages))


@blp.route("/appointments")
class Appointments(MethodView):
    @allow(*STAFF)
    @blp.arguments(AppointmentQuery, location="query")
    @blp.response(200, page_of(AppointmentSchema))
    def get(self, args):
        filters = [getattr(Appointment, k) == args[k] for k in
                   ("location_id", "provider_id", "patient_id", "status") if k in args]
        if "date" in args:
            # The day sheet: the whole local day in start order, in two queries.
            location = records.get(Location, args["location_id"])
            day = local_day_window(args["date"], location.tz)
            rows = db.session.scalars(select(Appointment).where(
                *filters, Appointment.start_at >= day.start, Appointment.start_at < day.end)
                .order_by(Appointment.start_at, Appointment.id).options(*LOAD)).unique().all()
            return {"items": rows, "next_cursor": None}
        return paginate(Appointment, args, *filters, options=LOAD)

    @allow(*STAFF)
    @blp.arguments(AppointmentSchema)
    @blp.response(201, AppointmentSchema)
    def post(self, data):
        key = request.headers.get("Idempotency-Key")
        idem = Idempotency(current_caller().id, key, request.get_json(silent=True) or {}) \
            if key is not None else None
        req = booking.BookingRequest(
            patient_id=data["patient_id"], session_type=data["session_type"],
            location_id=data["location_id"], start=data["start"], provider_id=data.get("provider_id"),
            room_id=data.get("room_id"), telehealth=data["telehealth"],
            ride_arranged=data.get("ride_arranged"), notes=data["notes"],
            follows_appointment_id=data.get("follows_appointment_id"))
        appt, replayed = booking.book(req, actor(), _now(), idem)
        obj, status, headers = with_etag(_loaded(appt.id), 201)
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return obj, status, headers


@blp.route("/appointments/<int:appointment_id>")
class AppointmentById(MethodView):
    @allow(*STAFF)
    @blp.response(200, AppointmentSchema)
    def get(self, appointment_id):
        records.get(Appointment, appointment_id)
        return with_etag(_loaded(appointment_id))

    @allow(*STAFF)
    @blp.arguments(AppointmentPatchSchema)
    @blp.response(200, AppointmentSchema)
    def patch(self, data, appointment_id):
        version = expected_version("appointments", appointment_id)
        booking.update(appointment_id, data, actor(), _now(), version)
        return with_etag(_loaded(appointment_id))


def _transition_view(action: str):
    def post(self, appointment_id, data=None):
        return with_etag(booking.transition(appointment_id, action, actor(), _now(),
                                            reason=(data or {}).get("reason")))
    return post


@blp.route("/appointments/<int:appointment_id>/cancel")
class AppointmentCancel(MethodView):
    @allow(*STAFF)
    @blp.arguments(CancelSchema)
    @blp.response(200, AppointmentSchema)
    def post(self, data, appointment_id):
        """Cancel (kept, never deleted): frees every resource, voids planned texts, sends one notice."""
        return with_etag(booking.transition(appointment_id, "cancel", actor(), _now(), reason=data["reason"]))


@blp.route("/appointments/<int:appointment_id>/check-in")
class AppointmentCheckIn(MethodView):
    @allow(*STAFF)
    @blp.response(200, AppointmentSchema)
    def post(self, appointment_id):
        """booked -> checked-in, on the day of the appointment."""
        return with_etag(booking.transition(appointment_id, "check_in", actor(), _now()))


@blp.route("/appointments/<int:appointment_id>/complete")
class AppointmentComplete(MethodView):
    @allow(*STAFF)
    @blp.response(200, AppointmentSchema)
    def post(self, appointment_id):
        """checked-in -> fulfilled, once the session has started."""
        return with_etag(booking.transition(appointment_id, "complete", actor(), _now()))


@blp.route("/appointments/<int:appointment_id>/no-show")
class AppointmentNoShow(MethodView):
    @allow(*STAFF)
    @blp.response(200, AppointmentSchema)
    def post(self, appointment_id):
        """booked -> noshow, once the start has passed; planned texts are voided."""
        return with_etag(booking.transition(appointment_id, "no_show", actor(), _now()))


def register(app, api):
    api.register_blueprint(blp)
