"""The heartbeat job: /readyz reports how fresh the newest worker's beat is."""
import os
import socket

from flask import current_app

from ..extensions import db
from ..models import Heartbeat
from ..services.platform.transaction import write_transaction

WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"


def heartbeat_job() -> None:
    """Record that this worker is alive."""
    now = current_app.extensions["clock"].now()
    # A writer from the start: on SQLite a read transaction that then writes fails at once
    # with "database is locked" while the texts job writes, instead of waiting its turn.
    with write_transaction():
        row = db.session.get(Heartbeat, WORKER_NAME)
        if row is None:
            db.session.add(Heartbeat(name=WORKER_NAME, beat_at=now))
        else:
            row.beat_at = now
