"""iCalendar feeds out (per provider, room, location) and the tokens that open them."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from ...adapters.ical_feed import FeedEvent, render_feed
from ...domain.vocabulary import CALLED_OFF_STATUSES
from ...extensions import db
from ...models import (Appointment, AvailabilityRule, CalendarToken, Location, Patient, Provider, Room,
                      SessionType, TimeOff)
from ..platform import audit, records
from ..platform.transaction import write_transaction

UID_DOMAIN = "clinic-scheduler"  # our UIDs end "@clinic-scheduler"; imports skip them
PAST = dt.timedelta(days=90)
AHEAD = dt.timedelta(days=366)
SUBJECTS = {"provider_id": (Provider, "providers"), "room_id": (Room, "rooms"),
            "location_id": (Location, "locations")}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(subject: str, subject_id: int, actor, base_url: str) -> tuple[CalendarToken, str, str]:
    """A new token for one feed; returns (row, token, the feed's URL under base_url)."""
    model, path = SUBJECTS[subject]
    with write_transaction():
        records.require_refs(**{subject: (model, subject_id)})
        token = secrets.token_urlsafe(24)  # 192 random bits
        row = records.add(CalendarToken(token_hash=_hash(token), created_by=audit.Actor.of(actor).name,
                                        **{subject: subject_id}), actor)
    return row, token, f"{base_url}/calendar/{path}/{subject_id}.ics?token={token}"


def revoke_token(token_id: int, actor, now: dt.datetime) -> None:
    with write_transaction():
        row = records.lock(CalendarToken, token_id, "calendar token")
        if row.revoked_at is None:
            before = audit.snapshot(row)
            row.revoked_at = now
            audit.record(actor, "revoke", row, before=before)


def list_tokens(limit: int, after: int | None) -> records.Page:
    return records.page(CalendarToken, limit, after)


def check_token(kind: str, subject_id: int, token: str | None) -> bool:
    """True only for a live token issued for exactly this feed (compared in constant time)."""
    if not token or len(token) > 200:
        return False
    digest = _hash(token)
    row = db.session.scalar(select(CalendarToken).where(CalendarToken.token_hash == digest))
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_hash, digest):
        return False
    return getattr(row, kind) == subject_id


def _event(row) -> FeedEvent:
    tz = ZoneInfo(row.timezone)
    where = "telehealth" if row.telehealth else (row.room_name or "")
    who = f"{row.patient_name}: " if row.feed_shows_patient_names else ""
    phases = f"Provider: {row.provider_name}. "
    if row.monitoring_start:
        phases += (f"Administering until {row.provider_busy_end.astimezone(tz):%H:%M}, "
                   f"monitoring until {row.end_at.astimezone(tz):%H:%M}. ")
    return FeedEvent(
        uid=f"appointment-{row.id}@{UID_DOMAIN}", start=row.start_at, end=row.end_at, tz=row.timezone,
        summary=f"{who}{row.type_name}" + (f" ({where})" if where else ""),
        location=row.location_name + ("" if row.telehealth else f", {row.address}"),
        description=phases + f"Status: {row.status}.", sequence=row.sequence,
        status="CANCELLED" if row.status in CALLED_OFF_STATUSES else "CONFIRMED",
        last_modified=row.updated_at)


def _window(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    # Whole UTC days, so the window (and the ETag) moves once a day, not every second.
    day = dt.datetime.combine(now.date(), dt.time(0), tzinfo=dt.timezone.utc)
    return day - PAST, day + AHEAD


def fingerprint(kind: str, subject_id: int, now: dt.datetime) -> str:
    """The feed's ETag from a few aggregates: a 304 costs no rendering."""
    records.get(SUBJECTS[kind][0], subject_id)
    lo, hi = _window(now)
    appts = db.session.execute(select(func.count(), func.max(Appointment.updated_at), func.sum(Appointment.sequence))
                               .where(getattr(Appointment, kind) == subject_id, Appointment.start_at < hi,
                                      Appointment.end_at > lo)).one()
    parts = [kind, subject_id, lo.date(), *appts]
    # Names and addresses shown in events come from these tables.
    for model in (Location, Room, SessionType, Provider, Patient):
        parts.append(db.session.scalar(select(func.max(model.updated_at))))
    if kind == "provider_id":
        parts.extend(db.session.execute(select(func.count(), func.max(TimeOff.updated_at)).where(
            TimeOff.provider_id == subject_id, TimeOff.start_at < hi, TimeOff.end_at > lo)).one())
    return '"fp-' + hashlib.sha256(repr(parts).encode()).hexdigest()[:40] + '"'


def feed(kind: str, subject_id: int, now: dt.datetime) -> bytes:
    """The feed's body. Cancelled sessions stay in it, marked CANCELLED."""
    model, _ = SUBJECTS[kind]
    subject = records.get(model, subject_id)
    lo, hi = _window(now)
    rows = db.session.execute(
        select(Appointment.id, Appointment.start_at, Appointment.end_at, Appointment.provider_busy_end,
               Appointment.monitoring_start, Appointment.status, Appointment.sequence, Appointment.updated_at,
               Appointment.telehealth, Location.timezone, Location.name.label("location_name"),
               Location.address, Location.feed_shows_patient_names, SessionType.name.label("type_name"),
               Room.name.label("room_name"), Patient.name.label("patient_name"),
               Provider.name.label("provider_name"))
        .join(Location, Location.id == Appointment.location_id)
        .join(SessionType, SessionType.id == Appointment.session_type_id)
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(Provider, Provider.id == Appointment.provider_id)
        .outerjoin(Room, Room.id == Appointment.room_id)
        .where(getattr(Appointment, kind) == subject_id, Appointment.start_at < hi, Appointment.end_at > lo)
        .order_by(Appointment.start_at, Appointment.id)).all()
    events = [_event(r) for r in rows]
    zones = {r.timezone for r in rows}
    if kind == "provider_id":
        tz = provider_zone(subject_id)
        zones.add(tz)
        for off in db.session.scalars(select(TimeOff).where(
                TimeOff.provider_id == subject_id, TimeOff.start_at < hi, TimeOff.end_at > lo)):
            events.append(FeedEvent(uid=f"timeoff-{off.id}@{UID_DOMAIN}", start=off.start_at, end=off.end_at,
                                    tz=tz, summary="Time off", location=None, description=None,
                                    sequence=off.version, status="CONFIRMED", last_modified=off.updated_at))
    elif kind == "location_id":
        zones.add(subject.timezone)
    elif kind == "room_id":
        zones.add(subject.location.timezone)
    return render_feed(getattr(subject, "name", str(subject_id)), events, sorted(zones))


def provider_zone(provider_id: int) -> str:
    # The zone of the lowest-numbered location they work at: stable between calls.
    tz = db.session.scalar(select(Location.timezone).join(
        AvailabilityRule, AvailabilityRule.location_id == Location.id)
        .where(AvailabilityRule.provider_id == provider_id).order_by(Location.id).limit(1))
    return tz or "America/Los_Angeles"
