"""Session types: phases, room kind and rules, editable by an admin."""
import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from ..domain.vocabulary import CAPABILITIES, CATEGORIES, CHECKPOINT_ANCHORS, ROOM_KINDS
from ..services.clinic import session_types
from .auth import ADMIN, STAFF, actor, allow
from .common import PageArgs, expected_version, page, page_of, with_etag

blp = Blueprint("session_types", __name__, url_prefix="/api/v1", description="Session types")
Str = ma.fields.String
Int = ma.fields.Integer
V = ma.validate


class CheckpointSchema(ma.Schema):
    label = Str(required=True, validate=V.Length(min=1, max=80))
    anchor = Str(required=True, validate=V.OneOf(CHECKPOINT_ANCHORS))
    offset_minutes = Int(required=True, validate=V.Range(min=-240, max=600))


class SessionTypeSchema(ma.Schema):
    code = Str(dump_only=True)
    name = Str(validate=V.Length(min=1, max=120))
    category = Str(dump_only=True, metadata={"enum": list(CATEGORIES)})
    administering_minutes = Int(validate=V.Range(min=5, max=480))
    monitoring_minutes = Int(validate=V.Range(min=0, max=720))
    room_kind = Str(validate=V.OneOf(ROOM_KINDS))
    telehealth_allowed = ma.fields.Boolean()
    rems = ma.fields.Boolean(metadata={
        "description": "FDA REMS: monitoring of at least 120 min and a prescriber on site"})
    provider_capabilities = ma.fields.List(
        Str(validate=V.OneOf(CAPABILITIES)), validate=V.Length(min=1, max=3))
    min_notice_minutes = Int(validate=V.Range(min=0, max=60 * 24 * 14))
    follow_window_hours = Int(validate=V.Range(min=1, max=24 * 31))
    instructions = ma.fields.Dict(keys=Str(validate=V.Length(max=60)),
                                  values=ma.fields.Raw())
    checkpoints = ma.fields.List(ma.fields.Nested(CheckpointSchema), validate=V.Length(max=20))
    active = ma.fields.Boolean()
    version = Int(dump_only=True)


@blp.route("/session-types")
class SessionTypes(MethodView):
    @allow(*STAFF)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(SessionTypeSchema))
    def get(self, args):
        return session_types.list_session_types(*page(args))


@blp.route("/session-types/<string:code>")
class SessionTypeByCode(MethodView):
    @allow(*STAFF)
    @blp.response(200, SessionTypeSchema)
    def get(self, code):
        return with_etag(session_types.session_type(code))

    @allow(*ADMIN)
    @blp.arguments(SessionTypeSchema(partial=True))
    @blp.response(200, SessionTypeSchema)
    def patch(self, data, code):
        version = expected_version("session_types", session_types.session_type(code).id)
        return with_etag(session_types.update_session_type(code, data, actor(), version))
