"""Fixtures: one migrated database per test run (SQLite file, or PostgreSQL when
TEST_DATABASE_URL is set), emptied between tests; an app with a fixed clock; API keys;
the network boundary (nothing beyond 127.0.0.0/8, no DNS: tests/support/network.py)."""
import datetime as dt
import os
import tempfile

import pytest
from sqlalchemy import text

from scheduler import create_app
from scheduler.clock import FixedClock
from scheduler.config import settings_from_overrides
from scheduler.extensions import db
from tests.support.network import GUARD, allowed_hosts

NOW = dt.datetime(2030, 1, 1, 16, 0, tzinfo=dt.timezone.utc)  # Tue 08:00 in Los Angeles


def _database_url(tmp_dir: str) -> str:
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_dir}/test.sqlite3"


@pytest.fixture(scope="session", autouse=True)
def _network_guard():
    GUARD.install()
    yield GUARD
    GUARD.uninstall()


@pytest.fixture(autouse=True)
def _nothing_beyond_loopback():
    seen = len(GUARD.violations)
    yield
    crossed = GUARD.violations[seen:]
    assert not crossed, f"the test reached beyond 127.0.0.0/8 or asked DNS: {crossed}"


@pytest.fixture
def no_network():
    """Inside the test, any connection or lookup fails and is listed: assert it stays empty."""
    with GUARD.forbid() as attempts:
        yield attempts


@pytest.fixture(scope="session")
def database_url():
    with tempfile.TemporaryDirectory() as tmp:
        yield _database_url(tmp)


@pytest.fixture(scope="session")
def _app(database_url):
    from flask_migrate import upgrade

    app = create_app({"TESTING": True, "DATABASE_URL": database_url,
                      "SECRET_KEY": "test-secret-key-0123456789", "CLOCK": FixedClock(NOW),
                      "SCHEDULER_EMBEDDED": False})
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade()
    return app


def empty_database():
    """Delete every row (keeping the migrated schema) and re-seed the default types."""
    from scheduler.services.clinic.session_types import seed_session_types

    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))
    seed_session_types()
    db.session.commit()


@pytest.fixture
def app(_app):
    _app.extensions["clock"] = FixedClock(NOW)
    with _app.app_context():
        empty_database()
        yield _app
        db.session.remove()


@pytest.fixture
def allow_outbound(app):
    """allow_outbound(url, ...): exempt these local servers, as OUTBOUND_ALLOWED_HOSTS would."""
    original, urls = app.extensions["settings"], []

    def allow(*more):
        urls.extend(more)
        app.extensions["settings"] = settings_from_overrides(
            original, {"outbound_allowed_hosts": allowed_hosts(*urls)})

    yield allow
    app.extensions["settings"] = original


@pytest.fixture
def clock(app):
    return app.extensions["clock"]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def keys(app):
    from scheduler.services.platform.api_keys import create_api_key

    return {role: create_api_key(f"{role} test key", role)[1]
            for role in ("admin", "front_desk", "calendar")}


class Api:
    """A thin wrapper: api.post("/locations", json=..., as_="admin") -> response."""

    def __init__(self, client, keys):
        self.client, self.keys = client, keys

    def request(self, method, path, as_="admin", headers=None, **kwargs):
        headers = dict(headers or {})
        if as_:
            headers["Authorization"] = f"Bearer {self.keys[as_]}"
        url = path if path.startswith("/api/") or not path.startswith("/") or path.startswith(("/calendar/", "/webhooks/", "/healthz", "/readyz")) else "/api/v1" + path
        return self.client.open(url, method=method, headers=headers, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


@pytest.fixture
def api(client, keys):
    return Api(client, keys)
