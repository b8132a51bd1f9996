"""The texts job: claim the due texts and send them through this process's sender."""
from concurrent.futures import ThreadPoolExecutor

from flask import current_app

from ..adapters.sms import LogSender, RateLimiter, TwilioSender
from ..extensions import db
from ..services.messaging.dispatch import DispatchReport, claim_due, send_one
from .heartbeat import WORKER_NAME

BATCH = 50
CONCURRENCY = 4  # sends in flight at once per worker; the rate limiter spaces them


def sender_and_limiter():
    """One sender and one rate limiter per app (per process): built once, shared by threads.
    Twilio when configured, else the log-only sender of the embedded default."""
    app = current_app
    cached = app.extensions.get("sms_sender")
    if cached is None:
        settings = app.extensions["settings"]
        if settings.twilio_enabled:
            sender = TwilioSender(
                settings.twilio_account_sid, settings.twilio_auth_token,
                from_number=settings.twilio_from_number,
                messaging_service_sid=settings.twilio_messaging_service_sid,
                api_base_url=settings.twilio_api_base_url,
                status_callback_base_url=settings.public_base_url)
            limiter = RateLimiter(settings.sms_rate_per_second)
        else:
            sender, limiter = LogSender(), None
        cached = app.extensions["sms_sender"] = (sender, limiter)
    return cached


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
