"""Book, move, cancel and move through statuses: each in one transaction, under locks.

Locks, always in this order so two bookings never wait on each other in a cycle:
the location row(s) (monitoring capacity is a count across the whole location), the
providers who work there (by id), then the patient. SQLite has one writer at a time
(BEGIN IMMEDIATE), so there the locks are no-ops. On PostgreSQL the exclusion
constraints refuse any overlap that got past the checks anyway: that refusal, at a flush
or the commit, is the 409 slot_unavailable of write_transaction.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from ...domain import appointments as lifecycle
from ...domain.errors import Conflict, Invalid, NotFound
from ...domain.intervals import Interval
from ...domain.scheduling import Outcome, check_start
from ...extensions import db
from ...models import Appointment, AvailabilityRule, Location, Patient, Provider, Room, SessionType
from ..calendars import changes
from ..clinic.session_types import active_session_type
from ..messaging import outbox
from ..platform import audit, records
from ..platform.idempotency import Idempotency
from ..platform.transaction import write_transaction
from .snapshot import apply_phases, followed_of, load_snapshot

LOST_RACE = {"conflict_code": "slot_unavailable", "conflict_message": "Someone else just took that time."}
MOVE_FIELDS = ("start", "provider_id", "room_id")


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


def book(req: BookingRequest, actor, now: dt.datetime,
         idempotency: Idempotency | None = None) -> tuple[Appointment, bool]:
    """Book one appointment. Returns (appointment, replayed) where replayed is True when an
    idempotency key named an earlier identical request."""
    try:
        return _book(req, actor, now, idempotency)
    except Conflict:
        if idempotency is None:
            raise
        # A twin request with the same key may have won the race: answer with its result.
        earlier = idempotency.replay()
        if earlier is None:
            raise
        return earlier, True


def _book(req: BookingRequest, actor, now: dt.datetime, idempotency) -> tuple[Appointment, bool]:
    with write_transaction(**LOST_RACE):
        if idempotency is not None:
            earlier = idempotency.replay()
            if earlier is not None:
                return earlier, True
        st = active_session_type(req.session_type)
        location, patient = _lock_location_and_patient(req)
        if req.follows_appointment_id is not None:
            first = followed_of(db.session.get(Appointment, req.follows_appointment_id))
            lifecycle.check_follow(st.category, req.patient_id, req.start, first)
        lifecycle.check_room_choice(req.telehealth, req.room_id)
        out = _evaluate(location, st, patient, req.start, now, req.telehealth, req.provider_id, req.room_id)
        appt = Appointment(patient_id=patient.id, session_type_id=st.id, location_id=location.id,
                           telehealth=req.telehealth, status="booked", ride_arranged=req.ride_arranged,
                           notes=req.notes or "", follows_appointment_id=req.follows_appointment_id,
                           created_by=audit.Actor.of(actor).name)
        apply_phases(appt, location, st, out.phases, out.providers[0], out.rooms[0] if out.rooms else None)
        db.session.add(appt)
        db.session.flush()
        outbox.plan_booked(appt, now)
        audit.record(actor, "book", appt)
        changes.record_appointment("appointment.booked", appt, now)
        if idempotency is not None:
            idempotency.remember(appt.id)
    return appt, False


def update(appointment_id: int, edits: dict, actor, now: dt.datetime,
           expected_version: int | None) -> Appointment:
    """Move (start, provider, room) with every rule re-checked, or edit notes and ride."""
    with write_transaction(**LOST_RACE):
        current = db.session.get(Appointment, appointment_id)
        if current is None:
            raise NotFound(f"No appointment with id {appointment_id}.")
        moving = any(k in edits and edits[k] != _current(current, k) for k in MOVE_FIELDS)
        if moving:
            _lock_resources([current.location_id])
        appt = records.lock_current(Appointment, appointment_id, expected_version)
        before = audit.snapshot(appt)
        if moving:
            lifecycle.check_movable(appt.status)
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
                    "start": before["start_at"], "provider_id": before["provider_id"],
                    "room_id": before["room_id"]})
    return appt


def transition(appointment_id: int, action: str, actor, now: dt.datetime,
               reason: str | None = None) -> Appointment:
    """check_in, complete, no_show or cancel (with its reason), when the status allows it."""
    with write_transaction():
        appt = records.lock(Appointment, appointment_id)
        target = lifecycle.next_status(action, appt.status, now=now, start=appt.start_at,
                                       day=appt.local_date, tz=appt.location.tz)
        before = audit.snapshot(appt)
        appt.status = target
        if action in lifecycle.STAMPS:
            setattr(appt, lifecycle.STAMPS[action], now)
        if action == "cancel":
            appt.cancel_reason = reason
            appt.sequence += 1
            outbox.plan_cancelled(appt, now)
        elif action == "no_show":
            outbox.void_planned(appt, "no-show", now)
        appt.version += 1
        audit.record(actor, action.replace("_", "-"), appt, before=before)
        if lifecycle.frees_time(target):
            changes.record_appointment(f"appointment.{target}", appt, now)
    return appt


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


def _evaluate(location: Location, st: SessionType, patient: Patient, start: dt.datetime, now,
              telehealth: bool, provider_id, room_id, exclude_id=None) -> Outcome:
    snap = load_snapshot(location, st, Interval(start, start + dt.timedelta(minutes=1)), patient,
                         exclude_id=exclude_id)
    out = check_start(snap.site, snap.spec, start, snap.staff, snap.rooms, now, snap.patient,
                      telehealth, provider_id, room_id)
    if not out.ok:
        raise Conflict(out.message, code=out.code)
    return out


def _current(appt: Appointment, key: str):
    return appt.start_at if key == "start" else getattr(appt, key)


def _move(appt: Appointment, edits: dict, now) -> None:
    location, st = appt.location, appt.session_type
    patient = records.lock(Patient, appt.patient_id)
    start = edits.get("start", appt.start_at)
    provider_id = edits.get("provider_id", appt.provider_id)
    wanted_room = edits.get("room_id")
    lifecycle.check_room_choice(appt.telehealth, wanted_room)
    if appt.follows_appointment_id:
        lifecycle.check_follow_on_move(start, followed_of(db.session.get(Appointment, appt.follows_appointment_id)))
    out = _evaluate(location, st, patient, start, now, appt.telehealth, provider_id, wanted_room,
                    exclude_id=appt.id)
    old_start = appt.start_at
    room = lifecycle.room_after_move(appt.telehealth, appt.room_id, wanted_room, out.rooms)
    apply_phases(appt, location, st, out.phases, provider_id, room)
    db.session.flush()
    appt.sequence += 1
    if start != old_start:
        outbox.plan_moved(appt, old_start, now)
