"""Book, move, cancel and move through statuses: each in one transaction, under locks.

Locks, always in this order so two bookings never wait on each other in a cycle:
the location row(s) (monitoring capacity is a count across the whole location), the
providers who work there (by id), then the patient. SQLite has one writer at a time
(BEGIN IMMEDIATE), so there the locks are no-ops. On PostgreSQL the exclusion
constraints refuse any overlap that got past the checks anyway.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ...database import begin_write
from ...domain.errors import Conflict, Invalid, NotFound
from ...domain.intervals import Interval
from ...domain.localtime import local_date_of
from ...domain.scheduling import check_start
from ...extensions import db
from ...models import Appointment, AvailabilityRule, Location, Patient, Provider, Room, SessionType
from ..calendars import changes
from ..messaging import outbox
from ..platform import audit, records
from .snapshot import load_snapshot
from ..calendars.external_calendars import busy_blocks

# FHIR Appointment statuses: which action leads from which status to which.
TRANSITIONS = {
    "check_in": ({"booked"}, "checked-in"),
    "complete": ({"checked-in"}, "fulfilled"),
    "no_show": ({"booked"}, "noshow"),
    "cancel": ({"booked", "checked-in"}, "cancelled"),
}


@dataclass
class BookingRequest:
    patient_id: int
    session_type: str
    location_id: int
    start: dt.datetime
    provider_id: int | None = None
    room_id: int | None = None
    telehealth: bool = False
    ride_arranged: bool | None = None
    notes: str = ""
    follows_appointment_id: int | None = None


def active_session_type(code: str) -> SessionType:
    st = db.session.scalar(select(SessionType).where(SessionType.code == code))
    if st is None or not st.active:
        raise Invalid(f"Unknown session type {code[:60]!r}.",
                      errors={"session_type": ["No active session type with this code."]})
    return st


def _lock_resources(location_ids: list[int]) -> list[Location]:
    """Lock the locations, then everyone who works there, in a fixed order."""
    locations = list(db.session.scalars(select(Location).where(Location.id.in_(location_ids))
                                        .order_by(Location.id).with_for_update()))
    provider_ids = select(AvailabilityRule.provider_id).where(AvailabilityRule.location_id.in_(location_ids))
    db.session.execute(select(Provider.id).where(Provider.id.in_(provider_ids))
                       .order_by(Provider.id).with_for_update()).all()
    return locations


def _lock_location_and_patient(req: BookingRequest) -> tuple[Location, Patient]:
    """Lock what the booking needs; body fields naming missing rows are one 422 naming each."""
    errors = {}
    try:
        records.require_refs(provider_id=(Provider, req.provider_id), room_id=(Room, req.room_id),
                             follows_appointment_id=(Appointment, req.follows_appointment_id))
    except Invalid as exc:
        errors.update(exc.errors)
    locations = _lock_resources([req.location_id])
    if not locations:
        errors["location_id"] = [f"No location with id {req.location_id}."]
    patient = db.session.scalar(select(Patient).where(Patient.id == req.patient_id).with_for_update())
    if patient is None:
        errors["patient_id"] = [f"No patient with id {req.patient_id}."]
    if errors:
        raise Invalid("Some fields name rows that do not exist.", errors=errors)
    return locations[0], patient


def _check_follows(req: BookingRequest, st: SessionType) -> None:
    if req.follows_appointment_id is None:
        return
    first = db.session.get(Appointment, req.follows_appointment_id)
    problem = None
    if st.category != "integration":
        problem = "Only an integration session follows a dosing session."
    elif first.patient_id != req.patient_id:
        problem = "That appointment is another patient's."
    elif not first.is_dosing or first.status in ("cancelled", "noshow"):
        problem = "That appointment is not a dosing session that is still on."
    elif req.start < first.end_at:
        problem = "An integration session starts after the dosing session it follows has ended."
    if problem:
        raise Invalid(problem, code="invalid_follow", errors={"follows_appointment_id": [problem]})


def _evaluate(location: Location, st: SessionType, patient: Patient, start: dt.datetime, now,
              telehealth: bool, provider_id, room_id, exclude_id=None):
    snap = load_snapshot(location, st, Interval(start, start + dt.timedelta(minutes=1)), patient,
                         exclude_id=exclude_id, busy_blocks=busy_blocks)
    out = check_start(snap.site, snap.spec, start, snap.staff, snap.rooms, now, snap.patient,
                      telehealth, provider_id, room_id)
    if not out.ok:
        raise Conflict(out.message, code=out.code)
    return out


def _apply(appt: Appointment, location: Location, st: SessionType, out, provider_id, room_id) -> None:
    ph = out.phases
    appt.start_at, appt.end_at, appt.provider_busy_end = ph.start, ph.end, ph.provider_end
    appt.monitoring_start = ph.monitoring.start if ph.monitoring else None
    appt.monitoring_end = ph.monitoring.end if ph.monitoring else None
    appt.room_busy_end = ph.room_end
    appt.provider_id, appt.room_id = provider_id, room_id
    appt.local_date = local_date_of(ph.start, location.tz)
    appt.is_dosing = st.category == "dosing"


def _flush_or_conflict() -> None:
    _refused_by_database(db.session.flush)


def _refused_by_database(step) -> None:
    """Flush or commit; an overlap the database refused (a lost race) becomes a 409."""
    try:
        step()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict("Someone else just took that time.", code="slot_unavailable") from exc


def book(req: BookingRequest, actor: str, now: dt.datetime, idempotency=None) -> tuple[Appointment, bool]:
    """Book one appointment. Returns (appointment, replayed) where replayed is True when an
    Idempotency-Key named an earlier identical request."""
    try:
        return _book(req, actor, now, idempotency)
    except Conflict:
        if idempotency is None:
            raise
        # A twin request with the same key may have won the race: answer with its result.
        db.session.rollback()
        earlier = idempotency.replay()
        if earlier is None:
            raise
        return earlier, True


def _book(req: BookingRequest, actor: str, now: dt.datetime, idempotency) -> tuple[Appointment, bool]:
    begin_write()
    if idempotency is not None:
        earlier = idempotency.replay()
        if earlier is not None:
            return earlier, True
    st = active_session_type(req.session_type)
    location, patient = _lock_location_and_patient(req)
    _check_follows(req, st)
    if req.telehealth and req.room_id is not None:
        raise Invalid("A telehealth session uses no room.", errors={"room_id": ["Leave it out for telehealth."]})
    out = _evaluate(location, st, patient, req.start, now, req.telehealth, req.provider_id, req.room_id)
    appt = Appointment(patient_id=patient.id, session_type_id=st.id, location_id=location.id,
                       telehealth=req.telehealth, status="booked", ride_arranged=req.ride_arranged,
                       notes=req.notes or "", follows_appointment_id=req.follows_appointment_id,
                       created_by=actor)
    _apply(appt, location, st, out, out.providers[0], out.rooms[0] if out.rooms else None)
    db.session.add(appt)
    _flush_or_conflict()
    outbox.plan_booked(appt, now)
    audit.record(actor, "book", appt)
    changes.record_appointment("appointment.booked", appt, now)
    if idempotency is not None:
        idempotency.remember(appt.id)
    _commit()
    return appt, False


def _commit() -> None:
    _refused_by_database(db.session.commit)


MOVE_FIELDS = ("start", "provider_id", "room_id")


def update(appointment_id: int, edits: dict, actor: str, now: dt.datetime,
           expected_version: int | None) -> Appointment:
    """Move (start, provider, room) with every rule re-checked, or edit notes/ride."""
    begin_write()
    current = db.session.get(Appointment, appointment_id)
    if current is None:
        raise NotFound(f"No appointment with id {appointment_id}.")
    moving = any(k in edits and edits[k] != _current(current, k) for k in MOVE_FIELDS)
    if moving:
        ids = sorted({current.location_id})
        _lock_resources(ids)
    appt = records.lock(Appointment, appointment_id)
    records.check_version(appt, expected_version)
    before = audit.snapshot(appt)
    if moving:
        if appt.status != "booked":
            raise Conflict(f"A {appt.status} appointment cannot be moved.", code="invalid_transition")
        records.require_refs(provider_id=(Provider, edits.get("provider_id")),
                             room_id=(Room, edits.get("room_id")))
        _move(appt, edits, now)
    for key in ("notes", "ride_arranged"):
        if key in edits:
            setattr(appt, key, edits[key] if key != "notes" else (edits[key] or ""))
    if audit.snapshot(appt) != before:
        appt.version += 1
        audit.record(actor, "move" if moving else "update", appt, before=before)
        if moving:
            changes.record_appointment("appointment.moved", appt, now, previous={
                "start": before["start_at"], "provider_id": before["provider_id"], "room_id": before["room_id"]})
    _commit()
    return appt


def _current(appt: Appointment, key: str):
    return appt.start_at if key == "start" else getattr(appt, key)


def _move(appt: Appointment, edits: dict, now) -> None:
    location, st = appt.location, appt.session_type
    patient = records.lock(Patient, appt.patient_id)
    start = edits.get("start", appt.start_at)
    provider_id = edits.get("provider_id", appt.provider_id)
    wanted_room = edits.get("room_id")
    if appt.telehealth and wanted_room is not None:
        raise Invalid("A telehealth session uses no room.", errors={"room_id": ["Leave it out for telehealth."]})
    if appt.follows_appointment_id:
        first = db.session.get(Appointment, appt.follows_appointment_id)
        if start < first.end_at:
            raise Conflict("An integration session starts after the dosing session it follows.",
                           code="invalid_follow")
    out = _evaluate(location, st, patient, start, now, appt.telehealth, provider_id, wanted_room,
                    exclude_id=appt.id)
    old_start = appt.start_at
    # Keep the room the patient had when it is still free; rooms of a kind are alike.
    room = None if appt.telehealth else (appt.room_id if wanted_room is None and appt.room_id in out.rooms
                                         else out.rooms[0])
    _apply(appt, location, st, out, provider_id, room)
    _flush_or_conflict()
    appt.sequence += 1
    if start != old_start:
        outbox.plan_moved(appt, old_start, now)


def transition(appointment_id: int, action: str, actor: str, now: dt.datetime,
               reason: str | None = None) -> Appointment:
    begin_write()
    appt = records.lock(Appointment, appointment_id)
    allowed_from, target = TRANSITIONS[action]
    if appt.status not in allowed_from:
        raise Conflict(f"Cannot {action.replace('_', '-')} an appointment that is {appt.status} "
                       f"(allowed from: {', '.join(sorted(allowed_from))}).", code="invalid_transition")
    if action == "check_in" and local_date_of(now, appt.location.tz) != appt.local_date:
        raise Conflict("Check-in happens on the day of the appointment.", code="invalid_transition")
    if action in ("no_show", "complete") and now < appt.start_at:
        raise Conflict("The appointment has not started yet.", code="invalid_transition")
    before = audit.snapshot(appt)
    appt.status = target
    stamp = {"check_in": "checked_in_at", "complete": "completed_at", "cancel": "cancelled_at"}.get(action)
    if stamp:
        setattr(appt, stamp, now)
    if action == "cancel":
        appt.cancel_reason = reason
        appt.sequence += 1
        outbox.plan_cancelled(appt, now)
    elif action == "no_show":
        outbox.void_planned(appt, "no-show", now)
    appt.version += 1
    audit.record(actor, action.replace("_", "-"), appt, before=before)
    if action in ("cancel", "no_show"):  # the time is free again
        changes.record_appointment(f"appointment.{target}", appt, now)
    db.session.commit()
    return appt
