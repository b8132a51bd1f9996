"""GET /slots: bookable start times."""
import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from ..services.scheduling.slots import find_slots
from .auth import ANY_ROLE, allow
from .common import now
from .fields import MAX_ID, Instant

blp = Blueprint("slots", __name__, url_prefix="/api/v1", description="Slot search")
Int = ma.fields.Integer
V = ma.validate


class SlotQuery(ma.Schema):
    location_id = Int(required=True, validate=V.Range(min=1, max=MAX_ID))
    session_type = ma.fields.String(required=True, validate=V.Length(min=1, max=40))
    start = Instant(metadata={"description": "required unless follows_appointment_id is given"})
    end = Instant(metadata={"description": "at most 31 days after start"})
    provider_id = Int(validate=V.Range(min=1, max=MAX_ID))
    patient_id = Int(validate=V.Range(min=1, max=MAX_ID))
    telehealth = ma.fields.Boolean(load_default=False)
    follows_appointment_id = Int(validate=V.Range(min=1, max=MAX_ID), metadata={
        "description": "for an integration session: default window is the 72 h after that dosing session"})


class SlotSchema(ma.Schema):
    start = Instant()
    end = Instant(metadata={"description": "end of chair time"})
    providers = ma.fields.List(Int())
    rooms = ma.fields.List(Int())


class SlotsSchema(ma.Schema):
    slots = ma.fields.List(ma.fields.Nested(SlotSchema), required=True)


class _Slot:
    __slots__ = ("start", "end", "providers", "rooms", "display_tz")

    def __init__(self, slot, tz):
        self.start, self.end, self.providers, self.rooms = slot.start, slot.end, slot.providers, slot.rooms
        self.display_tz = tz


@blp.route("/slots")
class Slots(MethodView):
    @allow(*ANY_ROLE)
    @blp.arguments(SlotQuery, location="query")
    @blp.response(200, SlotsSchema)
    def get(self, args):
        found = find_slots(args["location_id"], args["session_type"], args.get("start"), args.get("end"),
                           now(), args.get("provider_id"), args.get("patient_id"), args["telehealth"],
                           args.get("follows_appointment_id"))
        return {"slots": [_Slot(s, found.timezone) for s in found.slots]}
