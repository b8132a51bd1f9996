"""HTTP: one module per resource, each with its blueprint, registered from BLUEPRINTS;
auth, errors, request hooks and the OpenAPI document. Views parse, call one service, dump."""
import os

from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_cls
from flask import send_from_directory
from flask_smorest import Blueprint as ApiBlueprint
from swagger_ui_bundle import swagger_ui_path
from werkzeug.routing import IntegerConverter

from .. import metrics
from . import (appointments, availability, busy, calendar_tokens, changes, external_calendars, feeds, health,
               inbound_messages, limits, locations, message_templates, messages, patients, providers,
               request_hooks, rooms, security, session_types, slots, time_off, twilio_webhooks,
               webhook_subscriptions)
from .errors import Api, register_error_handlers

# Every route of the service. flask-smorest blueprints are documented in the OpenAPI
# document; the plain Flask ones (feeds, Twilio's webhooks, probes, metrics) are not.
BLUEPRINTS = (
    locations.blp, rooms.blp, providers.blp, availability.blp, time_off.blp, session_types.blp,
    patients.blp, slots.blp, appointments.blp, messages.blp, inbound_messages.blp,
    message_templates.blp, busy.blp, changes.blp, webhook_subscriptions.blp,
    external_calendars.blp, calendar_tokens.blp,
    feeds.blp, twilio_webhooks.blp, health.blp, metrics.bp,
)
SPEC = {
    "API_TITLE": "Ketamine clinic scheduler",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "api/v1/openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "api/docs",
    "OPENAPI_SWAGGER_UI_URL": "/api/docs/assets/",
    "API_SPEC_OPTIONS": {
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearerAuth": []}],
        "info": {"description": "Scheduling and reminders for a ketamine therapy practice."},
    },
}


class IdConverter(IntegerConverter):
    """<int:...> in our routes: an id a column can hold; a larger number is a 404, never a
    database overflow (a 500). The bound is documented in the spec (maximum)."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):
        from .fields import MAX_ID

        super().__init__(map, fixed_digits, min, MAX_ID if max is None else max, signed)


def _schema_name(schema) -> str:
    """Component names: "LocationSchema" -> "Location", partial (PATCH) -> "LocationPatch"."""
    cls = resolve_schema_cls(schema)
    name = cls.__name__.removesuffix("Schema")
    if getattr(schema, "partial", False) is True:
        name += "Patch"
    return name


def create_api(app) -> Api:
    """This app's flask-smorest Api: its own spec, error format and marshmallow plugin."""
    for key, value in SPEC.items():
        app.config.setdefault(key, value)
    api = Api(app, spec_kwargs={"marshmallow_plugin": MarshmallowPlugin(schema_name_resolver=_schema_name)})
    app.extensions["rest_api"] = api
    return api


def register_api(app) -> Api:
    app.url_map.converters["int"] = IdConverter  # before any route is added
    api = create_api(app)
    limits.register(app)  # first: its check runs before everything registered after
    security.register_cors(app)
    request_hooks.register_timing(app)
    for blueprint in BLUEPRINTS:
        if isinstance(blueprint, ApiBlueprint):
            api.register_blueprint(blueprint)
        else:
            app.register_blueprint(blueprint)
    register_error_handlers(app)
    request_hooks.register_checks(app)

    @app.route("/api/docs/assets/<path:filename>")
    def swagger_assets(filename):
        # The console's scripts come from the installed swagger-ui-bundle: no CDN needed.
        return send_from_directory(os.fspath(swagger_ui_path), filename, max_age=86400)

    return api
