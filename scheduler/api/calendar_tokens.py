"""Calendar tokens: an admin issues one per feed (provider, room or location)."""
import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from ..services.calendars import feeds
from .auth import ADMIN, actor, allow
from .common import PageArgs, now, page, page_of, public_base_url
from .fields import MAX_ID, Instant

blp = Blueprint("calendar_tokens", __name__, url_prefix="/api/v1", description="Calendar feed tokens")
Int = ma.fields.Integer
V = ma.validate


class TokenRequestSchema(ma.Schema):
    provider_id = Int(validate=V.Range(min=1, max=MAX_ID))
    room_id = Int(validate=V.Range(min=1, max=MAX_ID))
    location_id = Int(validate=V.Range(min=1, max=MAX_ID))

    @ma.validates_schema
    def _one(self, data, **kwargs):
        if len(data) != 1:
            raise ma.ValidationError("Give exactly one of provider_id, room_id, location_id.", "_schema")


class TokenSchema(ma.Schema):
    id = Int()
    provider_id = Int(allow_none=True)
    room_id = Int(allow_none=True)
    location_id = Int(allow_none=True)
    token = ma.fields.String(metadata={"description": "shown once"})
    url = ma.fields.String(metadata={"description": "the feed's address, token included"})
    revoked_at = Instant(allow_none=True)


@blp.route("/calendar-tokens")
class CalendarTokens(MethodView):
    @allow(*ADMIN)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(TokenSchema))
    def get(self, args):
        return feeds.list_tokens(*page(args))

    @allow(*ADMIN)
    @blp.arguments(TokenRequestSchema)
    @blp.response(201, TokenSchema)
    def post(self, data):
        (subject, subject_id), = data.items()
        row, token, url = feeds.issue_token(subject, subject_id, actor(), public_base_url())
        return {"id": row.id, subject: subject_id, "token": token, "url": url}


@blp.route("/calendar-tokens/<int:token_id>")
class CalendarTokenById(MethodView):
    @allow(*ADMIN)
    @blp.response(204)
    def delete(self, token_id):
        feeds.revoke_token(token_id, actor(), now())
