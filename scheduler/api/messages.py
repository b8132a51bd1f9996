"""The outbox as the front desk sees it: every text, its state, error and reason."""
import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from ..domain.vocabulary import MESSAGE_KINDS, MESSAGE_STATUSES
from ..services.messaging import messages
from .auth import STAFF, allow
from .common import PageArgs, page, page_of
from .fields import MAX_ID, Instant

blp = Blueprint("messages", __name__, url_prefix="/api/v1", description="Text messages (outbox)")
Str = ma.fields.String
Int = ma.fields.Integer


class MessageSchema(ma.Schema):
    id = Int()
    appointment_id = Int(allow_none=True)
    patient_id = Int()
    kind = Str(metadata={"enum": list(MESSAGE_KINDS)})
    status = Str(metadata={"enum": list(MESSAGE_STATUSES)})
    body = Str()
    send_at = Instant()
    sent_at = Instant(allow_none=True)
    twilio_sid = Str(allow_none=True)
    error_code = Int(allow_none=True)
    reason = Str(allow_none=True)
    attempts = Int()


class MessageQuery(PageArgs):
    status = Str(validate=ma.validate.OneOf(MESSAGE_STATUSES))
    since = Instant(metadata={"description": "only texts due at or after this instant"})
    patient_id = Int(validate=ma.validate.Range(min=1, max=MAX_ID))


@blp.route("/messages")
class Messages(MethodView):
    @allow(*STAFF)
    @blp.arguments(MessageQuery, location="query")
    @blp.response(200, page_of(MessageSchema))
    def get(self, args):
        return messages.list_messages(*page(args), status=args.get("status"), since=args.get("since"),
                                      patient_id=args.get("patient_id"))


@blp.route("/appointments/<int:appointment_id>/messages")
class AppointmentMessages(MethodView):
    @allow(*STAFF)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(MessageSchema))
    def get(self, args, appointment_id):
        return messages.appointment_messages(appointment_id, *page(args))
