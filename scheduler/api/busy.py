"""A provider's busy time: appointments, time off and their own calendars, merged."""
import marshmallow as ma
from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from ..domain.vocabulary import BUSY_SOURCES
from ..services.calendars import busy_time
from .auth import ANY_ROLE, allow
from .fields import Instant

blp = Blueprint("busy", __name__, url_prefix="/api/v1", description="Busy time")


class BusyQuery(ma.Schema):
    start = Instant(required=True)
    end = Instant(required=True)
    format = ma.fields.String(load_default="json", validate=ma.validate.OneOf(["json", "ics"]), metadata={
        "description": "ics: a VFREEBUSY (also chosen by Accept: text/calendar)"})


class BusyItemSchema(ma.Schema):
    start = Instant()
    end = Instant()
    source = ma.fields.String(metadata={"enum": list(BUSY_SOURCES)})


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
            body = busy_time.freebusy_ics(provider_id, args["start"], args["end"])
            return Response(body, mimetype="text/calendar")
        return {"busy": busy_time.busy(provider_id, args["start"], args["end"])}
