"""Rate limits (issue 6): per API key on /api/v1, per client address on Twilio's webhooks;
past the limit a 429 in our error format with Retry-After. Storage in memory by default,
in Redis when REDIS_URL is set (the same tests run against redis://127.0.0.1:6379/15).
"""
from __future__ import annotations

import os
import random
import uuid

import pytest

from scheduler import create_app
from scheduler.clock import FixedClock
from scheduler.extensions import db
from tests.conftest import NOW

REDIS_URL = "redis://127.0.0.1:6379/15"


def _redis_or_skip():
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        client.ping()
        return client
    except Exception as exc:  # noqa: BLE001 - any failure means "not here"
        if os.environ.get("CI") == "true":
            raise AssertionError(f"Redis must run in CI at {REDIS_URL}: {exc}") from exc
        pytest.skip(f"Redis is not running at {REDIS_URL} ({exc}); CI starts it")


@pytest.fixture(params=["memory", "redis"])
def storage(request):
    if request.param == "redis":
        return {"REDIS_URL": REDIS_URL, "client": _redis_or_skip()}
    return {"REDIS_URL": None, "client": None}


@pytest.fixture
def limited_app(app, database_url, storage):
    """A second app on the test database with small limits: 5 a minute per key, 3 a minute
    per address on the webhooks."""
    config = {"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret-key-0123456789",
              "SCHEDULER_EMBEDDED": False, "CLOCK": FixedClock(NOW),
              "RATE_LIMIT_API": "5 per minute", "RATE_LIMIT_WEBHOOKS": "3 per minute"}
    if storage["REDIS_URL"]:
        config["REDIS_URL"] = storage["REDIS_URL"]
    fresh = create_app(config)
    yield fresh
    with fresh.app_context():
        db.session.remove()
        db.engine.dispose()


def address() -> str:
    """A client address of its own per test: limits kept in Redis outlive the test."""
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(1, 254)}"


def get(client, path, key=None, ip="127.0.0.1", **kw):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.get(path, headers=headers, environ_base={"REMOTE_ADDR": ip}, **kw)


def assert_throttled(response):
    assert response.status_code == 429, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"code", "message", "errors"} and body["code"] == "rate_limited", body
    retry_after = int(response.headers["Retry-After"])
    assert 0 <= retry_after <= 60
    assert response.headers["X-RateLimit-Limit"] in {"5", "3"}
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert response.headers["X-Request-Id"]  # a throttled request is still traceable
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_an_api_key_is_limited_and_another_key_is_not(limited_app, keys, storage):
    client = limited_app.test_client()
    for n in range(5):
        response = get(client, "/api/v1/locations", keys["admin"])
        assert response.status_code == 200, n
        assert response.headers["X-RateLimit-Remaining"] == str(4 - n)
    assert_throttled(get(client, "/api/v1/locations", keys["admin"]))
    assert_throttled(get(client, "/api/v1/providers", keys["admin"]))  # the limit is the key's, not the path's
    # The same key from another address is still the same caller.
    assert_throttled(get(client, "/api/v1/locations", keys["admin"], ip=address()))
    # Another key (same address) is not limited.
    assert get(client, "/api/v1/locations", keys["front_desk"]).status_code == 200
    if storage["client"] is not None:
        stored = [k.decode() for k in storage["client"].scan_iter("*scheduler*key:*")]
        assert stored, "the limit was not kept in Redis"


def test_probes_docs_and_metrics_are_never_limited(limited_app, keys):
    client = limited_app.test_client()
    for _ in range(8):
        for path in ("/healthz", "/api/v1/openapi.json", "/metrics"):
            assert get(client, path, keys["admin"]).status_code == 200, path


def test_callers_without_a_key_are_limited_per_address(limited_app):
    client, ip = limited_app.test_client(), address()
    for _ in range(5):
        assert get(client, "/api/v1/locations", ip=ip).status_code == 401
    assert_throttled(get(client, "/api/v1/locations", ip=ip))
    assert get(client, "/api/v1/locations", ip=address()).status_code == 401


@pytest.mark.parametrize("path", ["/webhooks/twilio/status", "/webhooks/twilio/inbound"])
def test_twilio_webhooks_are_limited_per_address(limited_app, path):
    client, ip = limited_app.test_client(), address()
    form = {"MessageSid": "SM" + uuid.uuid4().hex, "MessageStatus": "delivered"}

    def post(from_ip):
        return client.post(path, data=form, headers={"X-Twilio-Signature": "forged"},
                           environ_base={"REMOTE_ADDR": from_ip})

    for _ in range(3):
        assert post(ip).status_code == 403  # unsigned: refused, and counted
    assert_throttled(post(ip))
    assert post(address()).status_code == 403  # another address has its own allowance


def test_the_shared_app_limits_by_its_settings_and_can_be_turned_off(app, api):
    limiter = app.extensions["rate_limiter"]
    assert limiter.enabled
    assert app.extensions["settings"].rate_limit_api == "1200 per minute"
    assert app.extensions["settings"].rate_limit_webhooks == "600 per minute"
    response = api.get("/locations")
    assert response.headers["X-RateLimit-Limit"] == "1200"
