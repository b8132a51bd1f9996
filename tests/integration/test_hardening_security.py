"""Security (issue 6): headers on every kind of response, CORS off unless configured,
SECRET_KEY required outside the embedded default, secrets stored only hashed or sealed,
compared in constant time, and Twilio's webhooks only with a valid signature.
"""
from __future__ import annotations

import dataclasses
import inspect as pyinspect
from urllib.parse import urlsplit

import pytest
from sqlalchemy import inspect, text

from scheduler import create_app
from scheduler.clock import FixedClock
from scheduler.config import ConfigError, load_settings
from scheduler.extensions import db
from scheduler.services.calendars import feeds
from scheduler.services.platform import api_keys
from tests.conftest import NOW
from tests.support import clinic as c
from tests.support.sms import INBOUND_PATH, PHONE, sms_clinic

DESK = "https://desk.example.com"
API_CSP = "default-src 'none'; frame-ancestors 'none'"
COMMON = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}


@pytest.fixture
def feed_url(api):
    loc = c.location("Pasadena")
    prov = c.provider("Dr. Feed", ["prescriber"], at=loc)
    c.commit()
    issued = api.post("/calendar-tokens", json={"provider_id": prov.id})
    assert issued.status_code == 201
    url = urlsplit(issued.get_json()["url"])
    return f"{url.path}?{url.query}"


def assert_security_headers(response, csp=API_CSP):
    for name, value in COMMON.items():
        assert response.headers.get(name) == value, (name, dict(response.headers))
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert response.headers["Content-Security-Policy"] == csp
    assert "Strict-Transport-Security" not in response.headers  # only behind https (below)


def test_api_responses_carry_the_security_headers_and_no_store(api):
    for response in (api.get("/locations"), api.get("/locations", as_=None), api.get("/locations/999"),
                     api.post("/locations", json={}), api.get("/no-such-thing")):
        assert_security_headers(response)
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Request-Id"]


def test_feed_docs_probes_metrics_and_webhooks_carry_them_too(api, client, feed_url):
    feed = client.get(feed_url)
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    assert_security_headers(feed)
    assert feed.headers["Cache-Control"] == "private, max-age=60"
    assert_security_headers(client.get(feed_url.replace("token=", "token=x")))  # the 404 too

    docs = client.get("/api/docs")
    assert docs.status_code == 200
    docs_csp = docs.headers["Content-Security-Policy"]
    assert "default-src 'self'" in docs_csp and "frame-ancestors 'none'" in docs_csp
    assert_security_headers(docs, csp=docs_csp)
    # The console works offline: everything it loads comes from this service.
    page = docs.get_data(as_text=True)
    assert "/api/docs/assets/swagger-ui-bundle.js" in page and "https://" not in page
    assert_security_headers(client.get("/api/docs/assets/swagger-ui-bundle.js"), csp=docs_csp)

    spec = client.get("/api/v1/openapi.json")
    assert spec.status_code == 200
    assert_security_headers(spec)
    assert spec.get_json()["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path in ("/healthz", "/readyz", "/metrics"):
        assert_security_headers(client.get(path))
    assert_security_headers(client.post(INBOUND_PATH, data={"Body": "hi"}))


def test_hsts_is_sent_when_the_public_address_is_https(app, api):
    settings = app.extensions["settings"]
    app.extensions["settings"] = dataclasses.replace(settings, public_base_url="https://clinic.example.com")
    try:
        response = api.get("/locations")
    finally:
        app.extensions["settings"] = settings
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


# ------------------------------------------------------------------ CORS

def test_cors_is_off_by_default(app, api):
    assert app.extensions["settings"].cors_origins == ()
    got = api.get("/locations", headers={"Origin": DESK})
    assert got.status_code == 200
    assert not [h for h in got.headers.keys() if h.startswith("Access-Control-")]
    preflight = api.client.options("/api/v1/locations", headers={
        "Origin": DESK, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 401  # no CORS: a preflight is just an OPTIONS without a key
    assert not [h for h in preflight.headers.keys() if h.startswith("Access-Control-")]


@pytest.fixture
def cors_app(app, database_url, monkeypatch):
    # CORS_ORIGINS as an operator sets it: in the environment, parsed by load_settings.
    monkeypatch.setenv("CORS_ORIGINS", DESK + ", https://admin.example.com")
    fresh = create_app({"TESTING": True, "DATABASE_URL": database_url, "SCHEDULER_EMBEDDED": False,
                        "SECRET_KEY": "test-secret-key-0123456789", "CLOCK": FixedClock(NOW)})
    yield fresh
    with fresh.app_context():
        db.session.remove()
        db.engine.dispose()


def test_cors_answers_only_a_configured_origin(cors_app, keys):
    client = cors_app.test_client()
    auth = {"Authorization": f"Bearer {keys['front_desk']}"}
    ok = client.get("/api/v1/locations", headers={**auth, "Origin": DESK})
    assert ok.status_code == 200
    assert ok.headers["Access-Control-Allow-Origin"] == DESK
    assert "X-Request-Id" in ok.headers["Access-Control-Expose-Headers"]
    assert "ETag" in ok.headers["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Credentials" not in ok.headers  # bearer keys, no cookies

    other = client.get("/api/v1/locations", headers={**auth, "Origin": "https://evil.example.com"})
    assert other.status_code == 200 and "Access-Control-Allow-Origin" not in other.headers

    # The browser's preflight carries no key: it is answered 2xx, for the desk only.
    preflight = client.options("/api/v1/appointments", headers={
        "Origin": DESK, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Content-Type, Idempotency-Key"})
    assert preflight.status_code == 200, preflight.get_data(as_text=True)
    assert preflight.headers["Access-Control-Allow-Origin"] == DESK
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Idempotency-Key" in preflight.headers["Access-Control-Allow-Headers"]
    assert preflight.get_data() == b""
    refused = client.options("/api/v1/appointments", headers={
        "Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in refused.headers
    # A plain OPTIONS (no preflight) still needs a key, and data still does.
    assert client.options("/api/v1/patients").status_code == 401
    assert client.get("/api/v1/patients", headers={"Origin": DESK}).status_code == 401

    # Outside the API (feeds, webhooks, probes): never.
    for path in ("/healthz", "/metrics", "/calendar/providers/1.ics?token=x"):
        assert "Access-Control-Allow-Origin" not in client.get(path, headers={"Origin": DESK}).headers


# ------------------------------------------------------------------ SECRET_KEY

def test_secret_key_is_required_with_postgresql():
    with pytest.raises(ConfigError) as caught:
        load_settings({"DATABASE_URL": "postgresql://app@db.example.com/clinic"})
    assert caught.value.variable == "SECRET_KEY"
    with pytest.raises(ConfigError) as short:
        load_settings({"DATABASE_URL": "postgresql://app@db.example.com/clinic", "SECRET_KEY": "short"})
    assert short.value.variable == "SECRET_KEY"
    ok = load_settings({"DATABASE_URL": "postgresql://app@db.example.com/clinic", "SECRET_KEY": "s" * 32})
    assert ok.secret_key == "s" * 32 and not ok.secret_key_generated


def test_create_app_refuses_postgresql_without_a_secret_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ConfigError) as caught:
        create_app({"TESTING": True, "DATABASE_URL": "postgresql://app@127.0.0.1:1/none"})
    assert caught.value.variable == "SECRET_KEY"
    assert "SECRET_KEY" in str(caught.value)


def test_the_embedded_default_makes_its_own_key():
    settings = load_settings({})
    assert settings.embedded and settings.secret_key_generated and len(settings.secret_key) >= 32


# ------------------------------------------------------------------ secrets at rest

def every_stored_value() -> list[str]:
    db.session.commit()
    values = []
    with db.engine.connect() as conn:
        for name in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{name}"')):
                values.extend(str(v) for v in row if v is not None)
    return values


def test_api_keys_feed_tokens_and_secrets_are_never_stored_in_plain(api, keys, app):
    clinic = sms_clinic()
    provider = c.provider("Dr. Secret", ["prescriber"], at=clinic.location)
    c.commit()
    token = api.post("/calendar-tokens", json={"provider_id": provider.id}).get_json()["token"]
    room_token = api.post("/calendar-tokens", json={"room_id": clinic.treatment_room.id}).get_json()["token"]
    secret = api.post("/webhook-subscriptions", json={"url": "https://hooks.example.com/x", "events": ["*"]}
                      ).get_json()["secret"]
    password = "caldav-password-7f3a9"
    linked = api.post(f"/providers/{provider.id}/external-calendars", json={
        "kind": "caldav", "url": "https://cal.example.com/dav/", "username": "dr", "password": password})
    assert linked.status_code == 201 and "password" not in linked.get_json()

    stored = every_stored_value()
    plaintexts = {**{f"{role} key": key for role, key in keys.items()},
                  "provider feed token": token, "room feed token": room_token,
                  "webhook secret": secret, "calendar password": password}
    for what, plain in plaintexts.items():
        assert len(plain) >= 16 or what == "calendar password"
        leaks = [v for v in stored if plain in v]
        assert not leaks, f"{what} stored in plain"
    # The feed still opens with the token, which is therefore only held hashed.
    assert api.client.get(f"/calendar/providers/{provider.id}.ics?token={token}").status_code == 200
    # Listing the tokens never shows them again.
    listed = api.get("/calendar-tokens").get_json()["items"]
    assert listed and all(item.get("token") is None for item in listed)


def test_keys_and_tokens_are_compared_in_constant_time():
    assert "compare_digest" in pyinspect.getsource(api_keys.caller_for_key)
    assert "compare_digest" in pyinspect.getsource(feeds.check_token)


# ------------------------------------------------------------------ Twilio's signature

def test_webhooks_without_a_valid_signature_are_403_and_change_nothing(app, api):
    from tests.support.sms import AUTH_TOKEN, PUBLIC, signed_post
    from tests.integration.test_hardening_inputs import table_counts

    clinic = sms_clinic()
    settings = app.extensions["settings"]
    app.extensions["settings"] = dataclasses.replace(settings, twilio_auth_token=AUTH_TOKEN,
                                                     public_base_url=PUBLIC)
    try:
        before = table_counts()
        form = {"MessageSid": "SM" + "1" * 32, "From": PHONE, "To": "+18055550199", "Body": "STOP"}
        assert signed_post(api.client, INBOUND_PATH, form, signature="").status_code == 403
        assert signed_post(api.client, INBOUND_PATH, form, token="not-the-token").status_code == 403
        assert signed_post(api.client, INBOUND_PATH, form, sign_path="/webhooks/twilio/status").status_code == 403
        assert table_counts() == before
        db.session.refresh(clinic.patient)
        assert clinic.patient.sms_opted_out is False
        assert signed_post(api.client, INBOUND_PATH, form).status_code == 200
        db.session.refresh(clinic.patient)
        assert clinic.patient.sms_opted_out is True
    finally:
        app.extensions["settings"] = settings


def test_a_lost_database_is_a_503_with_retry_after_not_a_500(api, app, monkeypatch):
    """PostgreSQL restarting (or SQLite locked): clients get a 503 they may retry."""
    from sqlalchemy.exc import OperationalError

    from scheduler.services.platform import records

    def down(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(records, "get", down)
    response = api.get("/locations/1")
    assert response.status_code == 503
    assert response.json["code"] == "unavailable"
    assert response.headers["Retry-After"] == "5"
