"""HTTP: blueprints, auth, error format, ETags, probes. Views stay thin."""
import os
import uuid

from flask import Response, abort, g, request, send_from_directory
from swagger_ui_bundle import swagger_ui_path



def register_api(app, api):
    from . import health, locations, patients, providers, session_types
    from .auth import authenticate
    from .errors import register_error_handlers

    for module in (locations, providers, session_types, patients):
        api.register_blueprint(module.blp)
    from . import appointments, calendar, hardening, inbound, messages, slots, templates, webhooks

    hardening.register(app)  # first: its limits and timing wrap everything registered after

    for module in (appointments, slots, messages, inbound, templates, webhooks, calendar):
        module.register(app, api)
    app.register_blueprint(health.bp)
    register_error_handlers(app)
    app.before_request(_request_id)
    app.before_request(authenticate)
    app.before_request(_json_only)
    app.after_request(_conditional_get)

    @app.route("/api/docs/assets/<path:filename>")
    def swagger_assets(filename):
        # The console's scripts come from the installed swagger-ui-bundle: no CDN needed.
        return send_from_directory(os.fspath(swagger_ui_path), filename, max_age=86400)


def _request_id():
    incoming = request.headers.get("X-Request-Id", "")
    g.request_id = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex


def _json_only():
    """A body sent to the API must be JSON: anything else is a 415, not a 422 guessing game."""
    if request.path.startswith("/api/v1") and request.method in ("POST", "PATCH", "PUT") \
            and (request.content_length or 0) > 0 and not request.is_json:
        abort(415)


def _conditional_get(response: Response) -> Response:
    response.headers["X-Request-Id"] = getattr(g, "request_id", "")
    if request.method in ("GET", "HEAD") and response.status_code == 200 \
            and request.path.startswith("/api/v1") and response.mimetype == "application/json":
        if "ETag" not in response.headers:
            response.add_etag()
        response.make_conditional(request)
    return response
