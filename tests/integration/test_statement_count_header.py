"""BENCH_COUNT_STATEMENTS (for the benchmarks): each response carries its own request's SQL
statements, pool checkouts and transactions, counted in the process that served it, so a
benchmark can read them through gunicorn. Off by default: no header at all."""
from __future__ import annotations

import pytest
from sqlalchemy import event

from scheduler import create_app
from scheduler.clock import FixedClock
from scheduler.extensions import db
from tests.conftest import NOW

HEADERS = ("X-Statement-Count", "X-Pool-Checkouts", "X-Transaction-Count")


@pytest.fixture
def counting_app(app, database_url):
    fresh = create_app({"TESTING": True, "DATABASE_URL": database_url, "SCHEDULER_EMBEDDED": False,
                        "SECRET_KEY": "test-secret-key-0123456789", "CLOCK": FixedClock(NOW),
                        "BENCH_COUNT_STATEMENTS": True})
    yield fresh
    with fresh.app_context():
        db.session.remove()
        db.engine.dispose()


def _engine_events(app, names):
    """Our own count of the app's engine events, independent of the hook's."""
    seen = dict.fromkeys(names, 0)
    with app.app_context():
        engine = db.engine

    def listener(name):
        def count(*_args):
            seen[name] += 1
        return count

    listeners = [(name, listener(name)) for name in names]
    for name, fn in listeners:
        event.listen(engine, name, fn)
    return seen, lambda: [event.remove(engine, name, fn) for name, fn in listeners]


def test_each_response_carries_its_own_requests_counts(counting_app, keys):
    client = counting_app.test_client()
    auth = {"Authorization": f"Bearer {keys['front_desk']}"}
    seen, stop = _engine_events(counting_app, ("before_cursor_execute", "checkout", "begin"))
    try:
        responses = []
        for path in ("/api/v1/locations", "/api/v1/session-types", "/api/v1/locations"):
            before = dict(seen)
            response = client.get(path, headers=auth)
            assert response.status_code == 200
            responses.append((response, {k: seen[k] - before[k] for k in seen}))
    finally:
        stop()
    for response, counted in responses:
        assert int(response.headers["X-Statement-Count"]) == counted["before_cursor_execute"] > 0
        assert int(response.headers["X-Pool-Checkouts"]) == counted["checkout"]
        assert int(response.headers["X-Transaction-Count"]) == counted["begin"] > 0


def test_a_refused_request_is_counted_too(counting_app):
    response = counting_app.test_client().get("/api/v1/locations", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert all(name in response.headers for name in HEADERS)


def test_off_by_default(client, keys):
    response = client.get("/api/v1/locations", headers={"Authorization": f"Bearer {keys['front_desk']}"})
    assert response.status_code == 200
    assert not [name for name in HEADERS if name in response.headers]
