"""Migrations and models describe the same schema; the probes report it."""
import datetime as dt
import tempfile

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.dialects.postgresql import ExcludeConstraint

from scheduler import create_app
from scheduler.extensions import db
from scheduler.models import Heartbeat

EXCLUSION_CONSTRAINTS = {"ex_appointments_provider_overlap", "ex_appointments_room_overlap",
                         "ex_appointments_patient_overlap"}


def script_directory(app) -> ScriptDirectory:
    return ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config())


def _is_exclusion_constraint(diff) -> bool:
    # Alembic does not reflect PostgreSQL EXCLUDE constraints, so a model that declares them
    # could be reported as "add_constraint" forever; migration 0002 creates them by hand and
    # test_exclusion_constraints_exist_on_postgresql checks they are really there.
    return (isinstance(diff, tuple) and diff[0] in ("add_constraint", "remove_constraint")
            and isinstance(diff[1], ExcludeConstraint))


def test_migrated_database_matches_the_models(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "compare_server_default": True})
        diffs = compare_metadata(context, db.metadata)
    assert [d for d in diffs if not _is_exclusion_constraint(d)] == []


def test_migration_chain_has_one_base_and_one_head(app):
    scripts = script_directory(app)
    assert len(scripts.get_bases()) == 1
    assert len(scripts.get_heads()) == 1
    revisions = list(scripts.walk_revisions())
    assert all(not isinstance(r.down_revision, (tuple, list)) for r in revisions)  # no merges


def test_database_is_at_the_head_revision(app):
    with db.engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    assert current == set(script_directory(app).get_heads())


def test_migrations_downgrade_to_nothing_and_upgrade_again(app):
    from flask_migrate import downgrade, upgrade

    with tempfile.TemporaryDirectory() as tmp:
        scratch = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp}/roundtrip.db",
                              "SECRET_KEY": "test-secret-key-0123456789",
                              "SCHEDULER_EMBEDDED": False})
        with scratch.app_context():
            try:
                upgrade()
                full = set(inspect(db.engine).get_table_names())
                assert {"locations", "appointments", "messages", "api_keys"} <= full
                downgrade(revision="base")
                assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
                upgrade()
                assert set(inspect(db.engine).get_table_names()) == full
            finally:
                db.session.remove()
                db.engine.dispose()


def test_exclusion_constraints_exist_on_postgresql(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("exclusion constraints are PostgreSQL's; SQLite serialises writers instead")
    with db.engine.connect() as conn:
        names = set(conn.scalars(text(
            "SELECT conname FROM pg_constraint "
            "WHERE contype = 'x' AND conrelid = 'appointments'::regclass")))
        gist = conn.scalar(text("SELECT count(*) FROM pg_extension WHERE extname = 'btree_gist'"))
    assert names == EXCLUSION_CONSTRAINTS
    assert gist == 1


# Probes -------------------------------------------------------------------------------

def test_healthz_answers_without_a_key(api):
    response = api.get("/healthz", as_=None)
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_is_degraded_while_no_worker_has_beaten(api):
    response = api.get("/readyz", as_=None)
    assert response.status_code == 200
    assert response.get_json() == {"status": "degraded", "checks": {
        "database": "ok", "migrations": "ok", "scheduler": "missing", "calendars": "ok"}}


def _beat(at):
    db.session.add(Heartbeat(name="worker-1", beat_at=at))
    db.session.commit()


def test_readyz_is_ok_with_a_fresh_heartbeat(api, clock):
    _beat(clock.now() - dt.timedelta(seconds=30))
    body = api.get("/readyz", as_=None).get_json()
    assert body == {"status": "ok", "checks": {"database": "ok", "migrations": "ok",
                                               "scheduler": "ok", "calendars": "ok"}}


def test_readyz_is_degraded_when_the_heartbeat_is_stale(api, clock):
    _beat(clock.now())
    clock.advance(minutes=10)
    response = api.get("/readyz", as_=None)
    assert response.status_code == 200
    assert response.get_json()["status"] == "degraded"
    assert response.get_json()["checks"]["scheduler"] == "stale"


def test_readyz_is_unavailable_when_migrations_are_behind(api, app):
    head = script_directory(app).get_current_head()
    previous = script_directory(app).get_revision(head).down_revision
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": previous})
    try:
        response = api.get("/readyz", as_=None)
    finally:
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"
    assert response.get_json()["checks"]["migrations"] == "behind"
