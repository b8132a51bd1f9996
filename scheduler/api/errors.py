"""One error format for every failure: {"code", "message", "errors"} (API.md)."""
import logging

import marshmallow as ma
from flask import jsonify
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from flask_smorest import Api as SmorestApi
from werkzeug.exceptions import HTTPException

from ..domain.errors import Conflict, DomainError, Invalid, NotFound, PreconditionFailed, UpstreamFailed

log = logging.getLogger("scheduler.api")

DEFAULT_CODES = {
    400: ("malformed_request", "The request could not be read."),
    401: ("unauthorized", "A valid API key is required: Authorization: Bearer <key>."),
    403: ("forbidden", "This API key's role may not do that."),
    404: ("not_found", "No such resource."),
    405: ("method_not_allowed", "That method is not allowed here."),
    409: ("conflict", "The request conflicts with the current state."),
    412: ("precondition_failed", "The resource changed since you read it (If-Match failed)."),
    413: ("payload_too_large", "The request body is larger than 1 MB."),
    415: ("unsupported_media_type", "Send JSON with Content-Type: application/json."),
    422: ("validation_error", "Some fields are invalid."),
    429: ("rate_limited", "Too many requests; retry later."),
    502: ("upstream_failed", "A service we depend on did not answer properly."),
    500: ("internal_error", "Something went wrong on our side; nothing was changed."),
    503: ("unavailable", "The service is temporarily unavailable."),
}
DOMAIN_STATUS = ((NotFound, 404), (Conflict, 409), (Invalid, 422), (PreconditionFailed, 412),
                 (UpstreamFailed, 502))


class ErrorSchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={"description": "machine-readable code"})
    message = ma.fields.String(required=True, metadata={"description": "a human sentence"})
    errors = ma.fields.Dict(metadata={"description": "per-field messages"})


def flatten_messages(messages) -> dict:
    """webargs nests errors by location ({"json": {...}, "query": {...}}): name fields only."""
    if not isinstance(messages, dict):
        return {"_request": messages if isinstance(messages, list) else [str(messages)]}
    flat = {}
    for location, fields in messages.items():
        if isinstance(fields, dict):
            for name, value in fields.items():
                flat.setdefault(name, value)
        else:
            flat[location] = fields
    return flat


def error_body(status: int, code: str | None = None, message: str | None = None,
               errors: dict | None = None):
    default_code, default_message = DEFAULT_CODES.get(status, ("error", "Request failed."))
    return {"code": code or default_code, "message": message or default_message,
            "errors": errors or {}}


class Api(SmorestApi):
    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException):
        status = error.code or 500
        data = getattr(error, "data", None) or {}
        errors = {}
        message = data.get("message")
        if "errors" in data:
            errors = data["errors"]
        elif "messages" in data:
            errors = flatten_messages(data["messages"])
        code = data.get("code")
        if status == 400 and errors.get("json") == ["Invalid JSON body."]:
            message = "The body is not valid JSON."
            code = "malformed_json"
        if status == 422 and errors and not message:
            message = "Invalid fields: " + ", ".join(sorted(map(str, errors))) + "."
        if status >= 500:
            log.error("unhandled error: %s", getattr(error, "original_exception", error))
        response = jsonify(error_body(status, code, message, errors))
        response.status_code = status
        for name, value in (data.get("headers") or {}).items():
            response.headers[name] = value
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
        if status == 429:
            response.headers["Retry-After"] = str(_seconds_until_reset())
        return response


def _seconds_until_reset() -> int:
    """When the caller's rate-limit window frees up again (at least one second)."""
    import time

    from flask import current_app

    limiter = current_app.extensions.get("rate_limiter")
    current = getattr(limiter, "current_limit", None) if limiter else None
    return max(1, int(current.reset_at - time.time())) if current else 60


def handle_domain_error(error: DomainError):
    status = next((s for cls, s in DOMAIN_STATUS if isinstance(error, cls)), 400)
    response = jsonify(error_body(status, error.code, error.message, error.errors))
    response.status_code = status
    return response


def handle_database_unavailable(error):
    """The database is down or restarting: a 503 the client may retry, not a 500."""
    from ..services.platform.transaction import end_read

    log.warning("database unavailable: %s", type(getattr(error, "orig", error)).__name__)
    try:
        end_read()
    except SQLAlchemyError:
        pass
    response = jsonify(error_body(503, "unavailable", "The database is unavailable; retry shortly."))
    response.status_code = 503
    response.headers["Retry-After"] = "5"
    return response


def register_error_handlers(app):
    app.register_error_handler(DomainError, handle_domain_error)
    # Lost connections (PostgreSQL restarting) and SQLite's "database is locked".
    app.register_error_handler(OperationalError, handle_database_unavailable)
    app.register_error_handler(InterfaceError, handle_database_unavailable)
