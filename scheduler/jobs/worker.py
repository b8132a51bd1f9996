"""The APScheduler process. Production runs `flask --app wsgi worker` on its own; the
embedded default (SQLite, one process) starts the same jobs inside the web process."""
import logging
import signal
import threading
from datetime import datetime, timezone

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from ..extensions import db
from .registry import job_specs

log = logging.getLogger("scheduler.worker")


def _in_app_context(app, spec):
    def run():
        with app.app_context():
            try:
                spec.func()
            except Exception:  # a failing job must never stop the others
                log.exception("job %s failed", spec.id)
                db.session.rollback()
            finally:
                db.session.remove()
    run.__name__ = spec.id
    return run


def build_scheduler(app, scheduler_class):
    # Memory job store: the jobs are code, declared in registry.py; their state lives in
    # our own tables (claimed rows), so no job store is ever shared between processes.
    scheduler = scheduler_class(executors={"default": ThreadPoolExecutor(4)},
                                job_defaults={"coalesce": True, "max_instances": 1,
                                              "misfire_grace_time": 60},
                                timezone="UTC")
    for spec in job_specs():
        # First run at start-up, then every spec.seconds (APScheduler runs on real time).
        scheduler.add_job(_in_app_context(app, spec), "interval", seconds=spec.seconds,
                          id=spec.id, replace_existing=True,
                          next_run_time=datetime.now(timezone.utc))
    return scheduler


def run_worker(app) -> None:
    scheduler = build_scheduler(app, BlockingScheduler)

    def stop(signum, _frame):
        log.info("worker: signal %s, finishing running jobs", signum)
        threading.Thread(target=scheduler.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("worker: started with jobs %s", ", ".join(s.id for s in job_specs()))
    scheduler.start()


def start_embedded(app) -> None:
    scheduler = build_scheduler(app, BackgroundScheduler)
    scheduler.start()
    app.extensions["scheduler"] = scheduler
    log.info("embedded scheduler started")

