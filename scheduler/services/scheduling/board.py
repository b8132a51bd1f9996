"""The day board of one location: who and which room is busy when, in which phase, what
needs the front desk's attention, and how many more patients could be watched.

Plain values for the front desk's screen, in a fixed number of queries whatever the day
holds (the snapshot's, then appointments with their people, then failed texts). The
monitoring capacity is the booking rules' own step function (``Site.slack`` from the
snapshot), so the line the desk sees is the one bookings are checked against.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ...domain import intervals as iv
from ...domain.intervals import Interval
from ...domain.localtime import WEEKDAYS, local_day_window, local_span, to_local
from ...extensions import db
from ...domain.vocabulary import OCCUPYING_STATUSES
from ...models import (Appointment, AvailabilityRule, Location, Patient, Provider, Room,
                      SessionType)
from ..platform import records
from .snapshot import load_snapshot
from .visit_summary import BoardAppointment, Names, Phase, failed_texts, summarize

DEFAULT_HOURS = (dt.time(8), dt.time(17))  # the axis of a day the location is closed


@dataclass(frozen=True)
class Block:
    """One appointment drawn on one row: the phases that hold that provider or room."""

    appointment: BoardAppointment
    phases: tuple[Phase, ...]

    @property
    def start(self) -> dt.datetime:
        return self.phases[0].start

    @property
    def end(self) -> dt.datetime:
        return self.phases[-1].end


@dataclass(frozen=True)
class BoardRow:
    kind: str  # provider | room
    id: int
    name: str
    detail: str  # capabilities, or the room's kind
    available: tuple[Interval, ...]  # on site here (provider) or open (room), within the window
    away: tuple[Interval, ...]  # travel time to or from another location (providers)
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class CapacityStep:
    start: dt.datetime
    end: dt.datetime
    slack: int  # how many more patients could be watched: ratio * free clinicians - monitored


@dataclass(frozen=True)
class Board:
    location_id: int
    location_name: str
    timezone: str
    date: dt.date
    window: Interval  # the axis: whole hours covering opening hours and every appointment
    opening: tuple[Interval, ...]
    ratio: int
    rows: tuple[BoardRow, ...]
    appointments: tuple[BoardAppointment, ...]  # every status, in start order
    capacity: tuple[CapacityStep, ...]

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def offset(self, t: dt.datetime) -> float:
        """Where an instant sits on the axis, in percent of its width."""
        whole = self.window.duration.total_seconds()
        return round(max(0.0, min(100.0, (t - self.window.start).total_seconds() * 100 / whole)), 3)

    def hours(self) -> list[dt.datetime]:
        """The whole hours of the axis (local wall clock), for its labels and grid lines."""
        t, out = self.window.start, []
        while t < self.window.end:
            out.append(t)
            t += dt.timedelta(hours=1)
        return out


def day_board(location_id: int, day: dt.date) -> Board:
    location = records.get(Location, location_id)
    tz = location.tz
    day_window = local_day_window(day, tz)
    opening = _opening(location, day, tz)
    # Appointments without their related rows: the names come in one small query each
    # (joined rows would decode every session type's JSON once per appointment).
    rows = db.session.scalars(
        select(Appointment).where(Appointment.location_id == location.id,
                                  Appointment.start_at >= day_window.start, Appointment.start_at < day_window.end)
        .order_by(Appointment.start_at, Appointment.id).options(selectinload(Appointment.flags))).all()
    live = [a for a in rows if a.status in OCCUPYING_STATUSES]
    window = _axis(day, tz, opening, [(a.start_at, a.room_busy_end or a.end_at) for a in live], day_window)
    snap = _snapshot(location, window)
    staff = {s.id: s for s in snap.staff} if snap else {}
    working = {pid for pid, s in staff.items() if iv.clip(s.on_site, window)}
    providers = {row.id: row for row in db.session.execute(
        select(Provider.id, Provider.name, Provider.capabilities)
        .where(Provider.id.in_(working | {a.provider_id for a in rows})))}
    rooms = sorted(db.session.scalars(select(Room).where(Room.location_id == location.id)),
                   key=lambda r: (r.kind != "treatment", natural(r.name), r.id))
    names = Names(patients=dict(db.session.execute(select(Patient.id, Patient.name).where(
                       Patient.id.in_({a.patient_id for a in rows}))).all()),
                   providers={i: p.name for i, p in providers.items()},
                   rooms={r.id: r.name for r in rooms},
                   types={row.id: row for row in db.session.execute(
                       select(SessionType.id, SessionType.code, SessionType.name, SessionType.category))})
    failed = failed_texts([a.id for a in rows])
    appointments = tuple(summarize(a, failed.get(a.id, 0), names) for a in rows)
    drawn = [a for a in appointments if a.occupying]

    board_rows = [
        BoardRow("provider", pid, providers[pid].name, ", ".join(providers[pid].capabilities or ()),
                 tuple(iv.clip(staff[pid].on_site, window)) if pid in staff else (),
                 tuple(iv.clip(staff[pid].travel, window)) if pid in staff else (),
                 tuple(Block(a, _provider_phases(a)) for a in drawn if a.provider_id == pid))
        for pid in sorted(working | {a.provider_id for a in drawn}, key=lambda i: (natural(providers[i].name), i))]
    for room in rooms:
        blocks = tuple(Block(a, a.phases) for a in drawn if a.room_id == room.id)
        if room.active or blocks:
            board_rows.append(BoardRow("room", room.id, room.name, f"{room.kind} room"
                                       + ("" if room.active else " (inactive)"),
                                       tuple(iv.clip(opening, window)), (), blocks))
    capacity = tuple(CapacityStep(piece.start, piece.end, value)
                     for piece, value in snap.site.slack.segments(window)) if snap else ()
    return Board(location_id=location.id, location_name=location.name, timezone=location.timezone,
                 date=day, window=window, opening=tuple(opening), ratio=location.monitoring_ratio,
                 rows=tuple(board_rows), appointments=appointments, capacity=capacity)


def resource_names(location_id: int) -> tuple[dict[int, str], dict[int, str]]:
    """({provider id: name}, {room id: name}) of the people and rooms of a location."""
    working = select(AvailabilityRule.provider_id).where(AvailabilityRule.location_id == location_id)
    providers = dict(db.session.execute(select(Provider.id, Provider.name).where(Provider.id.in_(working))).all())
    rooms = dict(db.session.execute(select(Room.id, Room.name).where(Room.location_id == location_id)).all())
    return providers, rooms


def natural(name: str) -> tuple:
    """Sort key: "Chair 2" before "Chair 10", any case."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name.lower()))


def _opening(location: Location, day: dt.date, tz) -> list[Interval]:
    spans = []
    for start, end in (location.opening_hours or {}).get(WEEKDAYS[day.weekday()], []):
        span = local_span(day, _wall(start), _wall(end), tz)
        if span is not None:
            spans.append(span)
    return iv.merge(spans)


def _axis(day, tz, opening, spans, day_window: Interval) -> Interval:
    """Whole local hours from the first opening or start to the last closing or turnover."""
    hours = opening or [local_span(day, *DEFAULT_HOURS, tz) or day_window]
    lo, hi = hours[0].start, hours[-1].end
    for start, end in spans:
        lo, hi = min(lo, start), max(hi, end)
    past = _past_hour(to_local(lo, tz))
    lo -= past
    ahead = _past_hour(to_local(hi, tz))
    if ahead:
        hi += dt.timedelta(hours=1) - ahead
    return Interval(max(lo, day_window.start), min(max(hi, lo + dt.timedelta(hours=1)), day_window.end))


def _past_hour(local: dt.datetime) -> dt.timedelta:
    return dt.timedelta(minutes=local.minute, seconds=local.second, microseconds=local.microsecond)


def _snapshot(location: Location, window: Interval):
    """The booking rules' view of the day (staff on site, travel, monitoring slack)."""
    st = db.session.scalar(select(SessionType).order_by((SessionType.category != "dosing"), SessionType.id)
                           .limit(1))
    if st is None:
        return None
    return load_snapshot(location, st, window)


def _provider_phases(a: BoardAppointment) -> tuple[Phase, ...]:
    """A provider holds the administering (or the whole session). The monitoring after it is
    the site's (any clinician on duty watches: the capacity line) and turnover the room's."""
    return tuple(p for p in a.phases if p.kind in ("administering", "session"))


def _wall(text: str) -> dt.time:
    hh, mm = int(text[:2]), int(text[3:5])
    return dt.time(0) if hh == 24 else dt.time(hh, mm)
