"""Reading appointments: one with everything its answer shows, the day sheet, searches."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from ...domain.errors import NotFound
from ...domain.localtime import local_day_window
from ...extensions import db
from ...models import Appointment, Location
from ..platform import records

# What an appointment's answer shows, loaded up front (two queries, not eight lazy ones).
SHOWN = (joinedload(Appointment.patient), joinedload(Appointment.provider), joinedload(Appointment.room),
         joinedload(Appointment.location), joinedload(Appointment.session_type),
         selectinload(Appointment.messages))
FILTERS = ("location_id", "provider_id", "patient_id", "status")


def appointment(appointment_id: int) -> Appointment:
    found = db.session.scalars(select(Appointment).where(Appointment.id == appointment_id)
                               .options(*SHOWN)).unique().one_or_none()
    if found is None:
        raise NotFound(f"No appointment with id {appointment_id}.")
    return found


def search(limit: int, after: int | None, **filters) -> records.Page:
    """Appointments in id order, filtered by any of FILTERS."""
    return records.page(Appointment, limit, after, *_where(filters), options=SHOWN)


def day_sheet(location_id: int, day: dt.date, **filters) -> records.Page:
    """The whole local day at a location in start order (one page), in two queries."""
    location = records.get(Location, location_id)
    window = local_day_window(day, location.tz)
    rows = db.session.scalars(select(Appointment).where(
        Appointment.location_id == location_id, *_where(filters),
        Appointment.start_at >= window.start, Appointment.start_at < window.end)
        .order_by(Appointment.start_at, Appointment.id).options(*SHOWN)).unique().all()
    return records.Page(list(rows), None)


def _where(filters: dict) -> list:
    return [getattr(Appointment, k) == v for k, v in filters.items() if k in FILTERS and v is not None]
