import os
import socket

from flask import current_app

from ..database import begin_write
from ..extensions import db
from ..models import Heartbeat

WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"


def heartbeat_job() -> None:
    """Record that this worker is alive; /readyz reports how fresh the newest beat is."""
    now = current_app.extensions["clock"].now()
    # A writer from the start: on SQLite a read transaction that then writes fails at once
    # with "database is locked" while the dispatch job writes, instead of waiting its turn.
    begin_write()
    row = db.session.get(Heartbeat, WORKER_NAME)
    if row is None:
        db.session.add(Heartbeat(name=WORKER_NAME, beat_at=now))
    else:
        row.beat_at = now
    db.session.commit()
