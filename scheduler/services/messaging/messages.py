"""The outbox as the front desk reads it: every text, or one appointment's."""
from __future__ import annotations

import datetime as dt

from ...models import Appointment, Message
from ..platform import records


def list_messages(limit: int, after: int | None, status: str | None = None,
                  since: dt.datetime | None = None, patient_id: int | None = None) -> records.Page:
    filters = []
    if status is not None:
        filters.append(Message.status == status)
    if since is not None:
        filters.append(Message.send_at >= since)
    if patient_id is not None:
        filters.append(Message.patient_id == patient_id)
    return records.page(Message, limit, after, *filters)


def appointment_messages(appointment_id: int, limit: int, after: int | None) -> records.Page:
    records.get(Appointment, appointment_id)
    return records.page(Message, limit, after, Message.appointment_id == appointment_id)
