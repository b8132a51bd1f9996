"""What /readyz reports: database reachable, schema at the newest migration, worker alive."""
import logging
from datetime import timedelta

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from ...extensions import db
from ...models import Heartbeat

log = logging.getLogger("scheduler.readiness")
logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)
HEARTBEAT_FRESH = timedelta(minutes=2)
_heads: dict[str, set] = {}


def migration_heads(directory: str) -> set:
    """The newest revisions in the migrations folder (read once per folder)."""
    if directory not in _heads:
        _heads[directory] = set(ScriptDirectory(directory).get_heads())
    return _heads[directory]


def check(now, migrations_directory: str) -> dict:
    """Probe the database, the schema's revision, the worker's heartbeat and calendars."""
    checks = {}
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(conn).get_current_heads())
        checks["database"] = "ok"
        checks["migrations"] = "ok" if current == migration_heads(migrations_directory) else "behind"
        checks["scheduler"] = _scheduler(now)
        from ..calendars.external_calendars import failing_count

        failing = failing_count()
        checks["calendars"] = "ok" if not failing else f"{failing} failing"
    except SQLAlchemyError as exc:
        log.warning("readiness: database unreachable: %s", type(exc).__name__)
        checks["database"] = "unreachable"
    finally:
        db.session.remove()
    if checks.get("database") != "ok" or checks.get("migrations") != "ok":
        status = "unavailable"
    elif checks["scheduler"] in ("stale", "missing") or checks["calendars"] != "ok":
        status = "degraded"
    else:
        status = "ok"
    return {"status": status, "checks": checks}


def _scheduler(now) -> str:
    newest = db.session.scalar(select(func.max(Heartbeat.beat_at)))
    if newest is None:
        return "missing"
    return "ok" if now - newest <= HEARTBEAT_FRESH else "stale"
