"""Probes: /healthz (the process answers) and /readyz (it can do its job)."""
from flask import Blueprint, current_app, jsonify

from ..services.platform import readiness

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    report = readiness.check(current_app.extensions["clock"].now())
    return jsonify(report), (200 if report["status"] != "unavailable" else 503)


healthz.allowed_roles = readyz.allowed_roles = frozenset({"public"})
