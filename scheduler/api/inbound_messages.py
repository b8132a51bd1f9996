"""Patients' replies that a person should read (anything that was not a keyword, and CANCEL)."""
import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from ..domain.vocabulary import REPLY_ACTIONS
from ..services.messaging import replies
from .auth import STAFF, actor, allow
from .common import PageArgs, page, page_of
from .fields import Instant

blp = Blueprint("inbound", __name__, url_prefix="/api/v1", description="Replies from patients")


class InboundSchema(ma.Schema):
    id = ma.fields.Integer()
    patient_id = ma.fields.Integer(allow_none=True)
    appointment_id = ma.fields.Integer(allow_none=True)
    from_phone = ma.fields.String()
    body = ma.fields.String()
    action = ma.fields.String(metadata={"enum": list(REPLY_ACTIONS)})
    handled = ma.fields.Boolean()
    received_at = Instant()


class InboundQuery(PageArgs):
    handled = ma.fields.Boolean()


class HandledSchema(ma.Schema):
    handled = ma.fields.Boolean(required=True)


@blp.route("/inbound-messages")
class InboundList(MethodView):
    @allow(*STAFF)
    @blp.arguments(InboundQuery, location="query")
    @blp.response(200, page_of(InboundSchema))
    def get(self, args):
        return replies.list_replies(*page(args), handled=args.get("handled"))


@blp.route("/inbound-messages/<int:message_id>")
class InboundById(MethodView):
    @allow(*STAFF)
    @blp.arguments(HandledSchema)
    @blp.response(200, InboundSchema)
    def patch(self, data, message_id):
        """Mark a reply as dealt with by the front desk."""
        return replies.mark_handled(message_id, data["handled"], actor())
