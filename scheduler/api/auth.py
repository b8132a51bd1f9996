"""Bearer API keys and roles, checked for every /api/v1 request before its view runs.

Fail closed: a view that does not declare its roles with ``@allow`` answers 403 to
everyone, so a new route is never open by accident.
"""
from flask import abort, current_app, g, request

from ..domain.vocabulary import ROLES
from ..services.platform.api_keys import Caller, caller_for_key
from ..services.platform.audit import Actor
from ..services.platform.transaction import end_read

ADMIN = ("admin",)
STAFF = ("admin", "front_desk")
ANY_ROLE = ROLES
# The spec describes the API and holds no data; the docs console fetches it without a key.
PUBLIC_ENDPOINTS = {"api-docs.openapi_json"}


def allow(*roles):
    def mark(view):
        view.allowed_roles = frozenset(roles)
        return view
    return mark


def allowed_roles(endpoint: str, method: str):
    view = current_app.view_functions.get(endpoint)
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        if method == "HEAD":
            method = "GET"
        handler = getattr(view_class, method.lower(), None)
        return getattr(handler, "allowed_roles", None)
    return getattr(view, "allowed_roles", None)


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def authenticate():
    if not request.path.startswith("/api/v1") or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers \
            and current_app.extensions["settings"].cors_origins:
        # A CORS preflight never carries the key; browsers need it answered 2xx.
        return None
    caller = caller_for_key(_bearer())
    # End the read transaction now: use cases start their own (SQLite write locks).
    end_read()
    if caller is None:
        abort(401)
    g.caller = caller
    if request.method == "OPTIONS":
        return None
    roles = allowed_roles(request.endpoint, request.method) if request.endpoint else ANY_ROLE
    if roles is None or caller.role not in roles:
        abort(403)
    return None


def current_caller() -> Caller:
    return g.caller


def actor() -> Actor:
    """Who is asking, with this request's id, for the services' audit entries."""
    return Actor(g.caller.name, g.get("request_id"))
