"""The periodic jobs, declared as data with stable ids: restarting a worker re-adds the
same jobs, never duplicates. Every job is safe to run in several processes at once."""
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: Callable
    seconds: int


def job_specs() -> list[JobSpec]:
    from .calendars import calendar_sync_job, webhook_delivery_job
    from .texts import send_texts_job
    from .heartbeat import heartbeat_job

    return [
        JobSpec("heartbeat", heartbeat_job, 30),
        JobSpec("dispatch-messages", send_texts_job, 15),
        JobSpec("deliver-webhooks", webhook_delivery_job, 15),
        JobSpec("sync-calendars", calendar_sync_job, 60),
    ]
