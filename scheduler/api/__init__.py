"""HTTP: blueprints, auth, error format, ETags, probes. Views stay thin."""
import os
import uuid

from flask import Response, abort, g, request, send_from_directory
from swagger_ui_bundle import swagger_ui_path
from werkzeug.routing import IntegerConverter


class IdConverter(IntegerConverter):
    """<int:...> in our routes: an id a column can hold; a larger number is a 404, never a
    database overflow (a 500). The bound is documented in the spec (maximum)."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):
        from .fields import MAX_ID

        super().__init__(map, fixed_digits, min, MAX_ID if max is None else max, signed)


def register_api(app, api):
    app.url_map.converters["int"] = IdConverter  # before any route is added
    from . import health, locations, patients, providers, session_types
    from .auth import authenticate
    from .errors import register_error_handlers

    for module in (locations, providers, session_types, patients):
        api.register_blueprint(module.blp)
    from . import appointments, calendar, hardening, inbound, messages, slots, templates, twilio_webhooks

    hardening.register(app)  # first: its limits and timing wrap everything registered after

    for module in (appointments, slots, messages, inbound, templates, twilio_webhooks, calendar):
        module.register(app, api)
    app.register_blueprint(health.bp)
    register_error_handlers(app)
    # First of all, before the rate limiter's check: a throttled request is logged and
    # answered with its request id too.
    app.before_request_funcs.setdefault(None, []).insert(0, _request_id)
    app.before_request(authenticate)
    app.before_request(_json_only)
    app.before_request(_refuse_nul)
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


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _refuse_nul():
    """No name, note, code or URL needs a NUL character, and PostgreSQL can neither store nor
    compare text holding one: a 422 naming the field here (404 in a path), not a 500 later."""
    if not request.path.startswith("/api/v1"):
        return
    if "\x00" in request.path:
        abort(404)
    fields = {name for name, value in request.args.items(multi=True) if _has_nul(name) or _has_nul(value)}
    if request.method in ("POST", "PATCH", "PUT") and request.is_json:
        body = request.get_json(silent=True)
        pairs = body.items() if isinstance(body, dict) else [("_body", body)]
        fields |= {str(name).replace("\x00", "") or "_body" for name, value in pairs
                   if _has_nul(name) or _has_nul(value)}
    if fields:
        from ..domain.errors import Invalid

        raise Invalid("Text must not contain NUL characters.",
                      errors={name: ["Must not contain NUL characters."] for name in sorted(fields)})


def _conditional_get(response: Response) -> Response:
    response.headers["X-Request-Id"] = getattr(g, "request_id", "")
    if request.method in ("GET", "HEAD") and response.status_code == 200 \
            and request.path.startswith("/api/v1") and response.mimetype == "application/json":
        if "ETag" not in response.headers:
            response.add_etag()
        response.make_conditional(request)
    return response
