"""One appointment in the front desk's words: its phases, and what needs attention."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from ...extensions import db
from ...domain.vocabulary import ACTIVE_STATUSES, OCCUPYING_STATUSES
from ...models import Appointment, Message

FAILED_TEXT_STATUSES = ("failed", "undelivered")


@dataclass(frozen=True)
class Phase:
    kind: str  # administering | monitoring | turnover | session
    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True)
class Marker:
    code: str  # conflict, unconfirmed, no_ride, texts_failed, or a flag's own code
    label: str  # a short visible label
    message: str  # the whole sentence


@dataclass(frozen=True)
class BoardAppointment:
    id: int
    patient_id: int
    patient_name: str
    session_type: str
    session_name: str
    category: str
    status: str
    start: dt.datetime
    end: dt.datetime
    provider_id: int
    provider_name: str
    room_id: int | None
    room_name: str | None
    telehealth: bool
    ride_arranged: bool | None
    confirmed: bool
    phases: tuple[Phase, ...]
    markers: tuple[Marker, ...]

    @property
    def occupying(self) -> bool:
        return self.status in OCCUPYING_STATUSES


def failed_texts(appointment_ids: list[int]) -> dict[int, int]:
    if not appointment_ids:
        return {}
    return dict(db.session.execute(
        select(Message.appointment_id, func.count()).where(
            Message.appointment_id.in_(appointment_ids), Message.status.in_(FAILED_TEXT_STATUSES))
        .group_by(Message.appointment_id)).all())


def _phases(a: Appointment) -> tuple[Phase, ...]:
    if a.monitoring_start is not None:
        out = [Phase("administering", a.start_at, a.provider_busy_end),
               Phase("monitoring", a.monitoring_start, a.monitoring_end)]
    else:
        out = [Phase("session", a.start_at, a.end_at)]
    if a.room_busy_end is not None and a.room_busy_end > a.end_at:
        out.append(Phase("turnover", a.end_at, a.room_busy_end))
    return tuple(out)


def _markers(a: Appointment, failed_texts: int) -> tuple[Marker, ...]:
    out: list[Marker] = []
    for flag in a.flags:  # what is wrong with the visit now (external busy time, rules broken...)
        code = flag.get("code") if isinstance(flag, dict) else getattr(flag, "code", str(flag))
        message = flag.get("message") if isinstance(flag, dict) else getattr(flag, "message", "")
        out.append(Marker(str(code), str(code).replace("_", " ").capitalize(), str(message or code)))
    active = a.status in ACTIVE_STATUSES
    if active and a.status == "booked" and a.confirmed_at is None:
        out.append(Marker("unconfirmed", "Unconfirmed", "The patient has not confirmed this visit."))
    if active and a.is_dosing and a.ride_arranged is not True:
        out.append(Marker("no_ride", "No ride", "No ride home is arranged for this dosing session."))
    if failed_texts:
        out.append(Marker("texts_failed", "Text failed",
                          f"{failed_texts} text{'s' if failed_texts > 1 else ''} to the patient failed."))
    seen, unique = set(), []
    for m in out:  # a flag and our own check may name the same thing once each
        if m.code not in seen:
            seen.add(m.code)
            unique.append(m)
    return tuple(unique)


@dataclass(frozen=True)
class Names:
    patients: dict
    providers: dict
    rooms: dict
    types: dict  # id -> (id, code, name, category)


def summarize(a: Appointment, failed_texts: int, names: Names | None = None) -> BoardAppointment:
    """One appointment as the board shows it: its phases and what needs attention. Without
    ``names`` the appointment's own related rows give them (one appointment's page)."""
    if names is None:
        st = a.session_type
        names = Names({a.patient_id: a.patient.name}, {a.provider_id: a.provider.name},
                       {a.room_id: a.room.name} if a.room else {},
                       {st.id: (st.id, st.code, st.name, st.category)})
    _id, code, type_name, category = names.types[a.session_type_id]
    return BoardAppointment(
        id=a.id, patient_id=a.patient_id, patient_name=names.patients[a.patient_id], session_type=code,
        session_name=type_name, category=category, status=a.status, start=a.start_at, end=a.end_at,
        provider_id=a.provider_id, provider_name=names.providers[a.provider_id], room_id=a.room_id,
        room_name=names.rooms.get(a.room_id) if a.room_id else None, telehealth=a.telehealth,
        ride_arranged=a.ride_arranged, confirmed=a.confirmed_at is not None, phases=_phases(a),
        markers=_markers(a, failed_texts))
