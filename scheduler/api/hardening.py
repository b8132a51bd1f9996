"""What every response gets: security headers, CORS only where configured, rate limits
(per API key; per client IP for Twilio's webhooks), a request log line, metrics."""
import hashlib
import time

from flask import current_app, g, request
from flask_cors import CORS
from flask_limiter import HeaderNames, Limiter
from flask_limiter.util import get_remote_address

from .. import metrics
from ..logs import log_request

EXEMPT_PREFIXES = ("/healthz", "/readyz", "/metrics", "/api/docs", "/api/v1/openapi.json", "/static")
DOCS_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'")


def _rate_key() -> str:
    header = request.headers.get("Authorization", "")
    if request.path.startswith("/api/") and header:
        # The key's hash, never the key: limits follow the caller, not the address.
        return "key:" + hashlib.sha256(header.encode()).hexdigest()[:24]
    return "ip:" + (get_remote_address() or "unknown")


def _limit_for_request() -> str:
    settings = current_app.extensions["settings"]
    return settings.rate_limit_webhooks if request.path.startswith("/webhooks/") else settings.rate_limit_api


def _exempt() -> bool:
    return request.path.startswith(EXEMPT_PREFIXES) or request.method == "OPTIONS"


def _security_headers(response):
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


def register(app):
    settings = app.extensions["settings"]
    storage = settings.redis_url or "memory://"
    # Application limits: one allowance per caller across every route (default limits
    # would give each key a fresh allowance per endpoint).
    limiter = Limiter(_rate_key, app=app, application_limits=[_limit_for_request], storage_uri=storage,
                      headers_enabled=True, application_limits_exempt_when=_exempt,
                      # The limiter would stamp Retry-After (its window's reset) on every
                      # response; keep its figure under its own name and set the real
                      # Retry-After only on a 429 (api/errors.py) or a 503.
                      header_name_mapping={HeaderNames.RETRY_AFTER: "X-RateLimit-Retry-After"},
                      enabled=settings.rate_limit_enabled, swallow_errors=True,
                      in_memory_fallback_enabled=True, key_prefix="scheduler")
    app.extensions["rate_limiter"] = limiter
    if settings.cors_origins:
        CORS(app, resources={r"/api/v1/*": {"origins": list(settings.cors_origins)}},
             expose_headers=["ETag", "X-Request-Id", "Retry-After", "Idempotent-Replayed"],
             allow_headers=["Authorization", "Content-Type", "If-Match", "If-None-Match", "Idempotency-Key"],
             methods=["GET", "POST", "PATCH", "DELETE"])
    app.register_blueprint(metrics.bp)

    @app.before_request
    def _start():
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response):
        _security_headers(response)
        metrics.after(response)
        log_request(response, g.get("started", time.perf_counter()))
        return response
