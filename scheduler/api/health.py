"""Probes: /healthz (the process answers) and /readyz (it can do its job)."""
from flask import Blueprint, current_app, jsonify

from ..services.platform import readiness
from .common import now

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@blp.get("/readyz")
def readyz():
    report = readiness.check(now(), current_app.extensions["migrate"].directory)
    return jsonify(report), (200 if report["status"] != "unavailable" else 503)


healthz.allowed_roles = readyz.allowed_roles = frozenset({"public"})
