"""Patients: contact, consent and clearance for dosing."""
import datetime as dt

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from ..services.clinic import patients
from .auth import STAFF, actor, allow
from .common import PageArgs, expected_version, now, page, page_of, with_etag
from .fields import MAX_ID, Phone

blp = Blueprint("patients", __name__, url_prefix="/api/v1", description="Patients")
Str = ma.fields.String
Int = ma.fields.Integer
V = ma.validate


def _past_date(value: dt.date) -> None:
    today = now().date()
    if not dt.date(1900, 1, 1) <= value <= today:
        raise ma.ValidationError("Must be a date between 1900-01-01 and today.")


def _plausible_date(value: dt.date) -> None:
    if not dt.date(2000, 1, 1) <= value <= dt.date(2100, 1, 1):
        raise ma.ValidationError("Must be a date between 2000-01-01 and 2100-01-01.")


class PatientSchema(ma.Schema):
    id = Int(dump_only=True)
    name = Str(required=True, validate=V.Length(min=1, max=200))
    phone = Phone(required=True, metadata={"example": "+18055550100"})
    home_location_id = Int(required=True, validate=V.Range(min=1, max=MAX_ID))
    sms_consent = ma.fields.Boolean()
    sms_opted_out = ma.fields.Boolean(dump_only=True, metadata={
        "description": "set by the patient's STOP/START replies, never by the API"})
    date_of_birth = ma.fields.Date(allow_none=True, validate=_past_date)
    dosing_clearance_date = ma.fields.Date(allow_none=True, validate=_plausible_date, metadata={
        "description": "a prescriber's clearance for dosing; stands in for a consultation"})
    version = Int(dump_only=True)

    @ma.validates("name")
    def _name(self, value, **kwargs):
        if not value.strip() or "\x00" in value:
            raise ma.ValidationError("Must contain a name.")


class PatientQuery(PageArgs):
    phone = Phone()


@blp.route("/patients")
class Patients(MethodView):
    @allow(*STAFF)
    @blp.arguments(PatientQuery, location="query")
    @blp.response(200, page_of(PatientSchema))
    def get(self, args):
        return patients.list_patients(*page(args), phone=args.get("phone"))

    @allow(*STAFF)
    @blp.arguments(PatientSchema)
    @blp.response(201, PatientSchema)
    def post(self, data):
        return with_etag(patients.create_patient(data, actor()), 201)


@blp.route("/patients/<int:patient_id>")
class PatientById(MethodView):
    @allow(*STAFF)
    @blp.response(200, PatientSchema)
    def get(self, patient_id):
        return with_etag(patients.patient(patient_id))

    @allow(*STAFF)
    @blp.arguments(PatientSchema(partial=True))
    @blp.response(200, PatientSchema)
    def patch(self, data, patient_id):
        version = expected_version("patients", patient_id)
        return with_etag(patients.update_patient(patient_id, data, actor(), version))
