"""What the front desk's forms offer and one visit's page: reads only, plain values."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from ...domain.localtime import local_date_of
from ...extensions import db
from ...models import Appointment, Location, SessionType
from ..platform import records
from .board import natural, resource_names
from .visit_summary import FAILED_TEXT_STATUSES, BoardAppointment, summarize

@dataclass(frozen=True)
class Choices:
    locations: tuple[tuple[int, str], ...]  # (id, name) by name
    session_types: tuple[tuple[str, str, str], ...]  # (code, name, category), dosing first


@dataclass(frozen=True)
class Visit:
    summary: BoardAppointment  # phases and markers, as on the board
    record: Appointment  # with its location, session type, people and texts loaded
    local_date: dt.date
    providers: tuple[tuple[int, str], ...]  # who works at its location, by name (the move form)
    rooms: tuple[tuple[int, str], ...]  # rooms of the kind it needs, by name
    start_times: tuple[str, ...]  # wall-clock starts on the location's grid within its hours


def choices() -> Choices:
    locations = tuple(tuple(row) for row in db.session.execute(
        select(Location.id, Location.name).order_by(Location.name)))
    types = tuple(tuple(row) for row in db.session.execute(
        select(SessionType.code, SessionType.name, SessionType.category).where(SessionType.active.is_(True))
        .order_by(SessionType.category != "dosing", SessionType.id)))
    return Choices(locations=locations, session_types=types)


def today_at(location_id: int | None, now: dt.datetime) -> tuple[int | None, dt.date]:
    """The location asked for (or the first by name) and today's date in its zone."""
    query = select(Location).order_by(Location.name, Location.id).limit(1) if location_id is None \
        else select(Location).where(Location.id == location_id)
    location = db.session.scalar(query)
    if location is None:
        if location_id is not None:
            records.get(Location, location_id)  # "No location with id N."
        return None, now.date()
    return location.id, local_date_of(now, location.tz)


def visit(appointment_id: int) -> Visit:
    row = db.session.scalar(select(Appointment).where(Appointment.id == appointment_id).options(
        joinedload(Appointment.patient), joinedload(Appointment.provider), joinedload(Appointment.room),
        joinedload(Appointment.location), joinedload(Appointment.session_type),
        selectinload(Appointment.messages)))
    if row is None:
        records.get(Appointment, appointment_id)  # the one "No appointment with id N." message
    failed = sum(1 for m in row.messages if m.status in FAILED_TEXT_STATUSES)
    providers, rooms = resource_names(row.location_id)
    kind = row.session_type.room_kind
    fitting = {r.id for r in row.location.rooms if r.kind == kind and r.active}
    return Visit(summary=summarize(row, failed), record=row, local_date=row.local_date,
                 providers=tuple(sorted(providers.items(), key=lambda p: (natural(p[1]), p[0]))),
                 rooms=tuple(sorted(((i, n) for i, n in rooms.items() if i in fitting),
                                    key=lambda r: (natural(r[1]), r[0]))),
                 start_times=start_times(row.location))


def start_times(location: Location) -> tuple[str, ...]:
    """Every grid time from the earliest opening to the latest closing of the week."""
    spans = [span for day in (location.opening_hours or {}).values() for span in day]
    first = min((s for s, _ in spans), default="07:00")
    last = max((e for _, e in spans), default="19:00")
    step = location.slot_minutes or 15
    minute, end = _minutes(first), _minutes(last)
    minute -= minute % step
    out = []
    while minute < end and minute < 24 * 60:
        out.append(f"{minute // 60:02d}:{minute % 60:02d}")
        minute += step
    return tuple(out)


def _minutes(text: str) -> int:
    return int(text[:2]) * 60 + int(text[3:5])
