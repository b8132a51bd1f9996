"""The ketamine clinic scheduler: create_app is the only way in."""
from __future__ import annotations

import os
from dataclasses import replace

from flask import Flask

from .clock import SystemClock
from .config import load_settings, settings_from_overrides
from .database import configure_engine
from .logs import configure_logging
from .extensions import db, migrate
from .services.platform.secrets_box import SecretBox

MIGRATIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations")


def create_app(config: dict | None = None) -> Flask:
    """Build the app. ``config`` overrides settings (by their upper-case names, e.g.
    ``DATABASE_URL``) and Flask keys; ``CLOCK`` injects the clock (tests)."""
    config = dict(config or {})
    app = Flask(__name__, instance_relative_config=True)
    settings = settings_from_overrides(load_settings(), {k.lower(): v for k, v in config.items()})
    if settings.database_url is None:
        os.makedirs(app.instance_path, exist_ok=True)
        database_url = "sqlite:///" + os.path.join(app.instance_path, "scheduler.sqlite3")
    else:
        database_url = settings.database_url
    if settings.secret_key_generated:
        settings = replace(settings, secret_key=_instance_secret(app.instance_path))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=database_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(database_url),
        MAX_CONTENT_LENGTH=1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.config.update({k: v for k, v in config.items() if k.isupper()})
    app.extensions["settings"] = settings
    app.extensions["clock"] = config.get("CLOCK") or SystemClock()
    app.extensions["secret_box"] = SecretBox(settings.secret_key)
    configure_logging(settings)

    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine)
    migrate.init_app(app, db, directory=MIGRATIONS)

    from .api import register_api
    from .cli import register_cli

    register_api(app)
    register_cli(app)
    if settings.bench_count_statements:
        from .metrics import count_per_request

        count_per_request(app)
    if settings.scheduler_embedded and not app.config.get("TESTING") and _serving():
        from .jobs.worker import start_embedded

        start_embedded(app)
    return app


def _instance_secret(folder: str) -> str:
    """The embedded default's key: made once, kept in the instance folder (mode 0600)."""
    import secrets

    path = os.path.join(folder, "secret_key")
    os.makedirs(folder, exist_ok=True)
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    with open(path) as handle:
        return handle.read().strip()


def _serving() -> bool:
    """True under a WSGI server or `flask run`; false for other commands (db upgrade...)."""
    import click

    ctx = click.get_current_context(silent=True)
    return ctx is None or ctx.info_name == "run"


def _engine_options(url: str) -> dict:
    # hide_parameters: an error message must never carry a patient's name or phone.
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30, "check_same_thread": False}, "hide_parameters": True}
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 10, "hide_parameters": True}
