"""Providers: capabilities, licences, contact."""
import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from ..domain.vocabulary import CAPABILITIES
from ..services.clinic import providers
from .auth import ADMIN, STAFF, actor, allow
from .common import PageArgs, expected_version, page, page_of, with_etag
from .fields import Phone, validate_state

blp = Blueprint("providers", __name__, url_prefix="/api/v1", description="Providers")
Str = ma.fields.String
Int = ma.fields.Integer
V = ma.validate


def _unique(values):
    if len(set(values)) != len(values):
        raise ma.ValidationError("Values must not repeat.")


class ProviderSchema(ma.Schema):
    id = Int(dump_only=True)
    name = Str(required=True, validate=V.Length(min=1, max=120))
    capabilities = ma.fields.List(Str(validate=V.OneOf(CAPABILITIES)), required=True,
                                  validate=[V.Length(min=1, max=3), _unique])
    licensed_states = ma.fields.List(Str(validate=validate_state), required=True,
                                     validate=[V.Length(min=1, max=60), _unique])
    phone = Phone(allow_none=True)
    active = ma.fields.Boolean()
    calendars_failing = Int(dump_only=True, metadata={
        "description": "linked external calendars whose last sync failed"})
    version = Int(dump_only=True)


@blp.route("/providers")
class Providers(MethodView):
    @allow(*STAFF)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(ProviderSchema))
    def get(self, args):
        return providers.list_providers(*page(args))

    @allow(*ADMIN)
    @blp.arguments(ProviderSchema)
    @blp.response(201, ProviderSchema)
    def post(self, data):
        return with_etag(providers.create_provider(data, actor()), 201)


@blp.route("/providers/<int:provider_id>")
class ProviderById(MethodView):
    @allow(*STAFF)
    @blp.response(200, ProviderSchema)
    def get(self, provider_id):
        return with_etag(providers.provider(provider_id))

    @allow(*ADMIN)
    @blp.arguments(ProviderSchema(partial=True))
    @blp.response(200, ProviderSchema)
    def patch(self, data, provider_id):
        version = expected_version("providers", provider_id)
        return with_etag(providers.update_provider(provider_id, data, actor(), version))
