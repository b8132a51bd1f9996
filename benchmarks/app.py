"""The app under test, as every benchmark builds it: one secret key, no job scheduler."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository
SECRET_KEY = "benchmark-secret-key-0123456789"


def make_app(url: str, now: dt.datetime | None = None, **settings):
    """The app in-process; ``settings`` override configuration (e.g. OUTBOUND_ALLOWED_HOSTS)."""
    from scheduler import create_app
    from scheduler.clock import FixedClock

    config = {"DATABASE_URL": url, "SECRET_KEY": SECRET_KEY, "SCHEDULER_EMBEDDED": False, "TESTING": True,
              **settings}
    if now is not None:
        config["CLOCK"] = FixedClock(now)
    return create_app(config)


def api_key(app, name: str, role: str = "front_desk") -> str:
    from scheduler.services.platform.api_keys import create_api_key

    with app.app_context():
        return create_api_key(name, role)[1]


def dispose(app) -> None:
    """Hand the app's connections back (the next benchmark may drop the database)."""
    from scheduler.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()
