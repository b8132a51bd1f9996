"""What runs around every request: its id, its timing (log line, metrics, security headers),
JSON-only bodies, no NUL characters, and conditional GETs with ETags."""
import time
import uuid

from flask import Response, abort, g, request

from .. import metrics
from ..domain.errors import Invalid
from ..logs import log_request
from .security import security_headers


def register_timing(app) -> None:
    """Before the routes' own checks, so a refused request is timed and logged too."""
    app.before_request(_start)
    app.after_request(_finish)


def register_checks(app) -> None:
    # First of all, before the rate limiter's check: a throttled request is logged and
    # answered with its request id too.
    app.before_request_funcs.setdefault(None, []).insert(0, _request_id)
    from .auth import authenticate

    app.before_request(authenticate)
    app.before_request(_json_only)
    app.before_request(_refuse_nul)
    app.after_request(_conditional_get)


def _start():
    g.started = time.perf_counter()


def _finish(response):
    security_headers(response)
    metrics.after(response)
    log_request(response, g.get("started", time.perf_counter()))
    return response


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
