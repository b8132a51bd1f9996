import logging

from flask import current_app

from ..services.calendars import calendar_sync, webhooks_out
from .heartbeat import WORKER_NAME

log = logging.getLogger("scheduler.jobs")
CALENDARS_PER_RUN = 20


def calendar_sync_job() -> int:
    """Sync the due external calendars one at a time; a failing one is recorded and skipped."""
    clock = current_app.extensions["clock"]
    done = 0
    for _ in range(CALENDARS_PER_RUN):
        cal_id = calendar_sync.claim_due(clock.now(), WORKER_NAME)
        if cal_id is None:
            break
        try:
            calendar_sync.sync_calendar(cal_id, clock.now())
        except calendar_sync.CalendarSyncFailed as exc:
            log.warning("%s", exc.message)
        done += 1
    return done


def webhook_delivery_job() -> int:
    """Queue new changes for each subscription, then deliver them in order."""
    now = current_app.extensions["clock"].now()
    webhooks_out.enqueue(now)
    return webhooks_out.deliver_due(now, WORKER_NAME)
