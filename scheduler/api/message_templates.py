"""Message templates: wording per kind, session type and location (admin)."""
import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from ..domain.vocabulary import MESSAGE_KINDS, TEMPLATE_VARIANTS
from ..services.messaging import templates
from .auth import ADMIN, STAFF, actor, allow
from .common import PageArgs, expected_version, page, page_of, with_etag
from .fields import MAX_ID

blp = Blueprint("message_templates", __name__, url_prefix="/api/v1", description="Text wording")
V = ma.validate


class TemplateSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    kind = ma.fields.String(required=True, validate=V.OneOf(MESSAGE_KINDS))
    variant = ma.fields.String(load_default="full", validate=V.OneOf(TEMPLATE_VARIANTS), metadata={
        "description": "short: used when the full text does not fit (e.g. the 160-character exemption profile)"})
    session_type_id = ma.fields.Integer(allow_none=True, validate=V.Range(min=1, max=MAX_ID))
    location_id = ma.fields.Integer(allow_none=True, validate=V.Range(min=1, max=MAX_ID))
    body = ma.fields.String(required=True, validate=V.Length(min=1, max=1000), metadata={
        "description": "placeholders: {clinic} {date} {time} {address} {phone} {instructions} ..."})
    version = ma.fields.Integer(dump_only=True)


class TemplatePatchSchema(ma.Schema):
    body = ma.fields.String(required=True, validate=V.Length(min=1, max=1000))


@blp.route("/message-templates")
class Templates(MethodView):
    @allow(*STAFF)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(TemplateSchema))
    def get(self, args):
        return templates.list_templates(*page(args))

    @allow(*ADMIN)
    @blp.arguments(TemplateSchema)
    @blp.response(201, TemplateSchema)
    def post(self, data):
        """Refused (422, template_names_treatment) when it names a drug, treatment or diagnosis."""
        return with_etag(templates.create(data, actor()), 201)


@blp.route("/message-templates/<int:template_id>")
class TemplateById(MethodView):
    @allow(*ADMIN)
    @blp.arguments(TemplatePatchSchema)
    @blp.response(200, TemplateSchema)
    def patch(self, data, template_id):
        version = expected_version("message_templates", template_id)
        return with_etag(templates.update(template_id, data["body"], actor(), version))

    @allow(*ADMIN)
    @blp.response(204)
    def delete(self, template_id):
        templates.delete(template_id, actor())
