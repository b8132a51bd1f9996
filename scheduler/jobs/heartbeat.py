import os
import socket

from flask import current_app

from ..extensions import db
from ..models import Heartbeat

WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"


def heartbeat_job() -> None:
    """Record that this worker is alive; /readyz reports how fresh the newest beat is."""
    now = current_app.extensions["clock"].now()
    row = db.session.get(Heartbeat, WORKER_NAME)
    if row is None:
        db.session.add(Heartbeat(name=WORKER_NAME, beat_at=now))
    else:
        row.beat_at = now
    db.session.commit()
