"""The change feed: every availability-affecting change, in commit order."""
import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from ..services.calendars import changes
from .auth import ANY_ROLE, allow
from .fields import MAX_ID, Cursor, Instant

blp = Blueprint("changes", __name__, url_prefix="/api/v1", description="Change feed")
Int = ma.fields.Integer
Str = ma.fields.String


class ChangesQuery(ma.Schema):
    since = Cursor(load_default=None, metadata={
        "description": "the next_cursor of the previous page; absent: from the start"})
    limit = Int(load_default=100, validate=ma.validate.Range(min=1, max=500))
    provider_id = Int(validate=ma.validate.Range(min=1, max=MAX_ID))
    location_id = Int(validate=ma.validate.Range(min=1, max=MAX_ID))


class ChangeSchema(ma.Schema):
    id = Int()
    kind = Str()
    at = Instant()
    entity_type = Str()
    entity_id = Int(allow_none=True)
    provider_id = Int(allow_none=True)
    room_id = Int(allow_none=True)
    location_id = Int(allow_none=True)
    start = Instant(attribute="start_at", allow_none=True)
    end = Instant(attribute="end_at", allow_none=True)
    data = ma.fields.Dict()


class ChangesSchema(ma.Schema):
    changes = ma.fields.List(ma.fields.Nested(ChangeSchema), required=True, attribute="items")
    next_cursor = Cursor(required=True, attribute="next_after",
                         metadata={"description": "pass as since= to continue; stable when empty"})


@blp.route("/changes")
class Changes(MethodView):
    @allow(*ANY_ROLE)
    @blp.arguments(ChangesQuery, location="query")
    @blp.response(200, ChangesSchema)
    def get(self, args):
        return changes.page(args["since"] or 0, args["limit"], args.get("provider_id"), args.get("location_id"))
