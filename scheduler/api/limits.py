"""Rate limits: one allowance per API key across every route (per client IP for Twilio's
webhooks), in Redis when configured so every process shares it."""
import hashlib

from flask import current_app, request
from flask_limiter import HeaderNames, Limiter
from flask_limiter.util import get_remote_address

EXEMPT_PREFIXES = ("/healthz", "/readyz", "/metrics", "/api/docs", "/api/v1/openapi.json", "/static")


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


def register(app) -> None:
    settings = app.extensions["settings"]
    # Application limits: one allowance per caller across every route (default limits
    # would give each key a fresh allowance per endpoint).
    limiter = Limiter(_rate_key, app=app, application_limits=[_limit_for_request],
                      storage_uri=settings.redis_url or "memory://",
                      headers_enabled=True, application_limits_exempt_when=_exempt,
                      # The limiter would stamp Retry-After (its window's reset) on every
                      # response; keep its figure under its own name and set the real
                      # Retry-After only on a 429 (api/errors.py) or a 503.
                      header_name_mapping={HeaderNames.RETRY_AFTER: "X-RateLimit-Retry-After"},
                      enabled=settings.rate_limit_enabled, swallow_errors=True,
                      in_memory_fallback_enabled=True, key_prefix="scheduler")
    app.extensions["rate_limiter"] = limiter
