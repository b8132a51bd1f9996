"""The calendar jobs: sync providers' external calendars, deliver webhooks."""
import logging

from flask import current_app

from ..adapters.outbound import OutboundPolicy
from ..services.calendars import external_calendars, webhook_delivery
from .heartbeat import WORKER_NAME

log = logging.getLogger("scheduler.jobs")
CALENDARS_PER_RUN = 20


def calendar_sync_job() -> int:
    """Sync the due external calendars one at a time; a failing one is recorded and skipped."""
    clock, secret_box = current_app.extensions["clock"], current_app.extensions["secret_box"]
    settings = current_app.extensions["settings"]
    policy = OutboundPolicy(settings.outbound_allowed_hosts)
    done = 0
    for _ in range(CALENDARS_PER_RUN):
        cal_id = external_calendars.claim_due(clock.now(), WORKER_NAME)
        if cal_id is None:
            break
        try:
            external_calendars.sync_calendar(cal_id, clock.now(), secret_box, policy,
                                             max_occurrences=settings.calendar_max_occurrences)
        except external_calendars.CalendarSyncFailed as exc:
            log.warning("%s", exc.message)
        done += 1
    return done


def webhook_delivery_job() -> int:
    """Queue new changes for each subscription, then deliver them in order."""
    now = current_app.extensions["clock"].now()
    webhook_delivery.enqueue(now)
    policy = OutboundPolicy(current_app.extensions["settings"].outbound_allowed_hosts)
    return webhook_delivery.deliver_due(now, WORKER_NAME, current_app.extensions["secret_box"], policy)
