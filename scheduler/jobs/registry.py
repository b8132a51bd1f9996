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
    from .heartbeat import heartbeat_job

    specs = [JobSpec("heartbeat", heartbeat_job, 30)]
    try:
        from .dispatch import dispatch_job
        specs.append(JobSpec("dispatch-messages", dispatch_job, 15))
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.dispatch":
            raise
    return specs
