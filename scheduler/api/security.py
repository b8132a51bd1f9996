"""What a browser is told: security headers on every response, CORS only where configured."""
from flask import current_app, request
from flask_cors import CORS

DOCS_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'")


def security_headers(response):
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    docs = request.path.startswith("/api/docs")
    headers.setdefault("Content-Security-Policy", DOCS_CSP if docs else "default-src 'none'; frame-ancestors 'none'")
    if request.path.startswith("/api/v1") and request.path != "/api/v1/openapi.json":
        headers.setdefault("Cache-Control", "no-store")  # patient data: no shared caches
    if current_app.extensions["settings"].public_base_url.startswith("https://"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def register_cors(app) -> None:
    origins = app.extensions["settings"].cors_origins
    if origins:
        CORS(app, resources={r"/api/v1/*": {"origins": list(origins)}},
             expose_headers=["ETag", "X-Request-Id", "Retry-After", "Idempotent-Replayed"],
             allow_headers=["Authorization", "Content-Type", "If-Match", "If-None-Match", "Idempotency-Key"],
             methods=["GET", "POST", "PATCH", "DELETE"])
