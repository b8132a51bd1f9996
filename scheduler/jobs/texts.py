from concurrent.futures import ThreadPoolExecutor

from flask import current_app

from ..extensions import db
from ..services.messaging.dispatch import DispatchReport, claim_due, send_one
from ..services.messaging.senders import sender_and_limiter
from .heartbeat import WORKER_NAME

BATCH = 50
CONCURRENCY = 4  # sends in flight at once per worker; the rate limiter spaces them


def send_texts_job() -> DispatchReport:
    """Claim the due texts and send them, a few at a time, each in its own app context."""
    app = current_app._get_current_object()
    now = app.extensions["clock"].now()
    sender, limiter = sender_and_limiter()
    report = DispatchReport()
    ids = claim_due(now, WORKER_NAME, BATCH)
    report.claimed = len(ids)

    def run(msg_id):
        with app.app_context():
            try:
                send_one(msg_id, sender, limiter, WORKER_NAME, now, report)
            finally:
                db.session.remove()

    if ids:
        with ThreadPoolExecutor(max_workers=min(CONCURRENCY, len(ids))) as pool:
            list(pool.map(run, ids))
    return report
