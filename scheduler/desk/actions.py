"""Every call the desk makes into the services, in one place.

Views call one function here; when a service is renamed or its arguments change, this
module is the only one of the desk to follow. Each function takes plain values that the
forms parsed and returns what the template shows; domain errors pass through unchanged
(the views show their messages next to the form).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import current_app

from ..domain.errors import Invalid
from ..domain.localtime import local_date_of, local_day_window, local_to_utc
from ..models import Appointment, Location, Patient
from ..services.clinic import patient_record, patient_search, patients
from ..services.platform import key_sessions, records
from ..services.scheduling import board as day_board, booking, visits
from ..services.scheduling.slots import find_slots

MAX_DAYS = 7


def now() -> dt.datetime:
    return current_app.extensions["clock"].now()


# Signing in ----------------------------------------------------------------------------
def sign_in(presented_key: str):
    return key_sessions.key_ref(presented_key)


def caller_for(key_id, fingerprint: str):
    if not isinstance(key_id, int):
        return None
    return key_sessions.caller_for_ref(key_id, fingerprint)


# Reading -------------------------------------------------------------------------------
def choices() -> visits.Choices:
    return visits.choices()


def today_at(location_id: int | None) -> tuple[int | None, dt.date]:
    """The location to show (the first by name when none is given) and its local today."""
    return visits.today_at(location_id, now())


def board(location_id: int, day: dt.date) -> day_board.Board:
    return day_board.day_board(location_id, day)


def visit(appointment_id: int) -> visits.Visit:
    return visits.visit(appointment_id)


def find_patients(q: str):
    return patient_search.find_patients(q)


def patient(patient_id: int) -> patient_record.PatientRecord:
    return patient_record.patient_record(patient_id)


@dataclass(frozen=True)
class NamedSlot:
    start: dt.datetime
    end: dt.datetime
    providers: tuple[tuple[int, str], ...]  # least loaded first, as the rules order them
    rooms: tuple[tuple[int, str], ...]


def find_time(location_id: int, session_type: str, day: dt.date, days: int, patient_id: int | None,
              provider_id: int | None, telehealth: bool) -> list[NamedSlot]:
    """Bookable starts over whole local days, with the providers' and rooms' names."""
    location = records.get(Location, location_id)
    days = max(1, min(days, MAX_DAYS))
    start = max(local_day_window(day, location.tz).start, now())
    end = local_day_window(day + dt.timedelta(days=days - 1), location.tz).end
    if end <= start:
        return []
    slots = find_slots(location_id, session_type, start, end, now(), provider_id, patient_id, telehealth).slots
    providers, rooms = day_board.resource_names(location_id)
    return [NamedSlot(s.start, s.end, tuple((p, providers.get(p, f"Provider {p}")) for p in s.providers),
                      tuple((r, rooms.get(r, f"Room {r}")) for r in s.rooms)) for s in slots]


# Writing -------------------------------------------------------------------------------
def book(actor: str, patient_id: int, session_type: str, location_id: int, start: dt.datetime,
         provider_id: int | None, room_id: int | None, telehealth: bool, ride_arranged: bool | None,
         notes: str = ""):
    request = booking.BookingRequest(
        patient_id=patient_id, session_type=session_type, location_id=location_id, start=start,
        provider_id=provider_id, room_id=room_id, telehealth=telehealth, ride_arranged=ride_arranged,
        notes=notes)
    appointment, _replayed = booking.book(request, actor, now())
    return appointment


def move(actor: str, appointment_id: int, day: dt.date, wall: dt.time, provider_id: int | None,
         room_id: int | None):
    """Move to a local date and wall-clock time at the appointment's own location."""
    current = records.get(Appointment, appointment_id)
    start = local_to_utc(day, wall, current.location.tz)
    if start is None:
        message = f"{wall:%H:%M} does not exist on {day:%d %b %Y} (the clocks go forward)."
        raise Invalid(message, errors={"time": [message]})
    changes = {"start": start}
    if provider_id is not None:
        changes["provider_id"] = provider_id
    if room_id is not None:
        changes["room_id"] = room_id
    return booking.update(appointment_id, changes, actor, now(), None)


def set_ride(actor: str, appointment_id: int, arranged: bool):
    return booking.update(appointment_id, {"ride_arranged": arranged}, actor, now(), None)


def cancel(actor: str, appointment_id: int, reason: str):
    return booking.transition(appointment_id, "cancel", actor, now(), reason=reason)


def check_in(actor: str, appointment_id: int):
    return booking.transition(appointment_id, "check_in", actor, now())


def create_patient(actor: str, values: dict) -> Patient:
    return patients.create_patient(values, actor)


def local_day_of(t: dt.datetime, location_id: int) -> dt.date:
    return local_date_of(t, records.get(Location, location_id).tz)


# Pages that need more than one read ----------------------------------------------------
@dataclass(frozen=True)
class BoardPage:
    board: day_board.Board | None
    choices: visits.Choices
    providers: tuple[tuple[int, str], ...]
    today: dt.date


def board_page(location_id: int | None, day: dt.date | None) -> BoardPage:
    location_id, today = today_at(location_id)
    found = choices()
    if location_id is None:
        return BoardPage(None, found, (), today)
    providers, _rooms = day_board.resource_names(location_id)
    return BoardPage(board(location_id, day or today), found, _by_name(providers), today)


@dataclass(frozen=True)
class FindPage:
    choices: visits.Choices
    location_id: int | None
    day: dt.date
    providers: tuple[tuple[int, str], ...]
    patient: tuple[int, str] | None  # the chosen patient
    matches: tuple[tuple[int, str], ...]  # patients matching the name typed, to choose from
    slots: list[NamedSlot] | None  # None until a search ran
    timezone: str


def find_page(location_id: int | None, day: dt.date | None, session_type: str | None, days: int,
              patient_id: int | None, patient_q: str, provider_id: int | None, telehealth: bool) -> FindPage:
    location_id, today = today_at(location_id)
    found = choices()
    if location_id is None:
        return FindPage(found, None, today, (), None, (), None, "UTC")
    location = records.get(Location, location_id)
    providers, _rooms = day_board.resource_names(location_id)
    chosen = None
    if patient_id is not None:
        chosen = (patient_id, records.get(Patient, patient_id, label="patient").name)
    matches = ()
    if chosen is None and patient_q:
        _query, rows, _more = patient_search.find_patients(patient_q, limit=10)
        matches = tuple((p.id, p.name) for p in rows)
    slots = None
    if session_type:
        slots = find_time(location_id, session_type, day or today, days, patient_id, provider_id, telehealth)
    return FindPage(found, location_id, day or today, _by_name(providers), chosen, matches, slots,
                    location.timezone)


def _by_name(names: dict[int, str]) -> tuple[tuple[int, str], ...]:
    return tuple(sorted(names.items(), key=lambda item: (day_board.natural(item[1]), item[0])))
