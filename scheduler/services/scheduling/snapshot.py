"""The one place scheduling rows become the rules' values, and the rules' answer goes back
into a row: a session type as a SessionSpec, a location's window as a Snapshot (site,
staff, rooms, patient), a follow-up's first session, and an appointment's phases.

A snapshot costs a fixed number of queries whatever the window's length (rooms, rules
with providers, time off, outside busy time, appointments, travel, patient).
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, or_, select

from ...domain import intervals as iv
from ...domain.appointments import Followed
from ...domain.intervals import Interval
from ...domain.localtime import (WEEKDAYS, local_date_of, local_dates, local_day_window, local_span,
                                 parse_wall_time)
from ...domain.scheduling import Phases, PatientState, RoomState, SessionSpec, Site, Staff, watchers_and_slack
from ...domain.vocabulary import OCCUPYING_STATUSES
from ...extensions import db
from ...models import (Appointment, AvailabilityRule, Location, Patient, Provider,
                      Room, SessionType, TimeOff, TravelTime)
from ..calendars.busy_time import busy_blocks

DEFAULT_TRAVEL_MINUTES = 90
MARGIN = dt.timedelta(days=1)


@dataclass
class Snapshot:
    spec: SessionSpec
    site: Site
    staff: list[Staff]
    rooms: list[RoomState]
    patient: PatientState | None


def spec_of(st: SessionType) -> SessionSpec:
    return SessionSpec(
        code=st.code, category=st.category,
        administering=dt.timedelta(minutes=st.administering_minutes),
        monitoring=dt.timedelta(minutes=st.monitoring_minutes), room_kind=st.room_kind,
        capabilities=frozenset(st.provider_capabilities or ()), rems=st.rems,
        telehealth_allowed=st.telehealth_allowed,
        min_notice=dt.timedelta(minutes=st.min_notice_minutes))


def followed_of(appt: Appointment) -> Followed:
    return Followed(patient_id=appt.patient_id, is_dosing=appt.is_dosing, status=appt.status, end=appt.end_at)


def apply_phases(appt: Appointment, location: Location, st: SessionType, ph: Phases,
                 provider_id: int, room_id: int | None) -> None:
    """Write a checked start's phases, provider and room into the appointment's row."""
    appt.start_at, appt.end_at, appt.provider_busy_end = ph.start, ph.end, ph.provider_end
    appt.monitoring_start = ph.monitoring.start if ph.monitoring else None
    appt.monitoring_end = ph.monitoring.end if ph.monitoring else None
    appt.room_busy_end = ph.room_end
    appt.provider_id, appt.room_id = provider_id, room_id
    appt.local_date = local_date_of(ph.start, location.tz)
    appt.is_dosing = st.category == "dosing"


def load_snapshot(location: Location, st: SessionType, window: Interval,
                  patient: Patient | None = None, exclude_id: int | None = None) -> Snapshot:
    """What the rules need for ``st`` at ``location`` over ``window`` (and ``patient``),
    leaving out the appointment ``exclude_id`` (the one being moved)."""
    spec = spec_of(st)
    tz = ZoneInfo(location.timezone)
    span = spec.administering + spec.monitoring + dt.timedelta(minutes=location.turnover_minutes)
    lo, hi = window.start - MARGIN, window.end + span + MARGIN
    days = local_dates(Interval(lo, hi), tz)

    rooms = list(db.session.scalars(select(Room).where(
        Room.location_id == location.id, Room.kind == st.room_kind, Room.active.is_(True))
        .order_by(Room.id)))
    rules = db.session.execute(
        select(AvailabilityRule, Provider).join(Provider, Provider.id == AvailabilityRule.provider_id)
        .where(AvailabilityRule.location_id == location.id, Provider.active.is_(True))).all()
    providers = {p.id: p for _, p in rules}
    ids = sorted(providers)
    time_off = defaultdict(list)
    if ids:
        for row in db.session.scalars(select(TimeOff).where(
                TimeOff.provider_id.in_(ids), TimeOff.start_at < hi, TimeOff.end_at > lo)):
            time_off[row.provider_id].append(Interval(row.start_at, row.end_at))
    outside = busy_blocks(ids, lo, hi)
    bookings = _bookings(location.id, ids, patient.id if patient else None, lo, hi, exclude_id)
    states = dict(db.session.execute(select(Location.id, Location.state)).all())
    travel = _travel_minutes()

    on_site = defaultdict(list)
    for rule, _ in rules:
        for day in days:
            if day.weekday() != rule.weekday or (rule.valid_from and day < rule.valid_from) \
                    or (rule.valid_until and day > rule.valid_until):
                continue
            span_iv = local_span(day, rule.start_time, rule.end_time, tz)
            if span_iv is not None:
                on_site[rule.provider_id].append(span_iv)

    by_provider, by_room = defaultdict(list), defaultdict(list)
    for b in bookings:  # one pass, not one per provider and per room
        by_provider[b.provider_id].append(b)
        if b.location_id == location.id and b.room_busy_end is not None:
            by_room[b.room_id].append(b)
    staff = []
    for pid in ids:
        p = providers[pid]
        mine = by_provider[pid]
        away = [_travel_block(b, location, states, travel, tz) for b in mine if b.location_id != location.id]
        load = defaultdict(int)
        for b in mine:
            load[local_date_of(b.start_at, tz)] += int((b.provider_busy_end - b.start_at).total_seconds() // 60)
        staff.append(Staff(
            id=pid, capabilities=frozenset(p.capabilities or ()),
            licensed_states=frozenset(p.licensed_states or ()),
            on_site=iv.subtract(on_site[pid], time_off[pid] + list(outside.get(pid, ()))),
            busy=iv.merge(Interval(b.start_at, b.provider_busy_end) for b in mine),
            travel=iv.merge(away), load=dict(load)))

    here = [b for b in bookings if b.location_id == location.id]
    room_states = []
    for room in rooms:
        used = by_room[room.id]
        load = defaultdict(int)
        for b in used:
            load[local_date_of(b.start_at, tz)] += int((b.end_at - b.start_at).total_seconds() // 60)
        room_states.append(RoomState(id=room.id, busy=iv.merge(Interval(b.start_at, b.room_busy_end) for b in used),
                                     load=dict(load)))

    monitoring = [Interval(b.monitoring_start, b.monitoring_end) for b in here
                  if b.monitoring_start is not None and b.monitoring_end > b.monitoring_start]
    opening = []
    for day in days:
        for start, end in (location.opening_hours or {}).get(WEEKDAYS[day.weekday()], []):
            span_iv = local_span(day, parse_wall_time(start), parse_wall_time(end, end=True), tz)
            if span_iv is not None:
                opening.append(span_iv)
    site = Site(location_id=location.id, tz=tz, state=location.state, ratio=location.monitoring_ratio,
                turnover=dt.timedelta(minutes=location.turnover_minutes), grid_minutes=location.slot_minutes,
                opening=iv.merge(opening), slack=watchers_and_slack(location.monitoring_ratio, staff, monitoring),
                prescribers_on_site=iv.merge(x for s in staff if "prescriber" in s.capabilities
                                             for x in iv.subtract(s.on_site, s.travel)))
    return Snapshot(spec=spec, site=site, staff=staff, rooms=room_states,
                    patient=_patient_state(patient, bookings, states) if patient else None)


BOOKING_COLUMNS = (Appointment.id, Appointment.patient_id, Appointment.provider_id, Appointment.location_id,
                   Appointment.room_id, Appointment.start_at, Appointment.end_at, Appointment.provider_busy_end,
                   Appointment.room_busy_end, Appointment.monitoring_start, Appointment.monitoring_end,
                   Appointment.local_date, Appointment.is_dosing)


def _bookings(location_id, provider_ids, patient_id, lo, hi, exclude_id):
    who = [Appointment.location_id == location_id]
    if provider_ids:
        who.append(Appointment.provider_id.in_(provider_ids))
    if patient_id is not None:
        who.append(Appointment.patient_id == patient_id)
    # Plain rows, not ORM objects: a busy month is thousands of rows and only these
    # columns matter (loading entities was a quarter of a slot search's time).
    query = select(*BOOKING_COLUMNS).where(
        Appointment.status.in_(OCCUPYING_STATUSES), Appointment.start_at < hi,
        Appointment.end_at > lo, or_(*who))
    if exclude_id is not None:
        query = query.where(Appointment.id != exclude_id)
    return db.session.execute(query).all()


def _travel_minutes() -> dict[tuple[int, int], int]:
    return {(a, b): m for a, b, m in db.session.execute(
        select(TravelTime.location_a_id, TravelTime.location_b_id, TravelTime.minutes))}


def _travel_block(b: Appointment, here: Location, states: dict, travel: dict, tz) -> Interval:
    """The time around a session elsewhere when the provider cannot work here."""
    if states.get(b.location_id) != here.state:
        # Never the same day across states: block the whole local day.
        return local_day_window(local_date_of(b.start_at, tz), tz)
    pair = tuple(sorted((b.location_id, here.id)))
    gap = dt.timedelta(minutes=travel.get(pair, DEFAULT_TRAVEL_MINUTES))
    return Interval(b.start_at - gap, b.provider_busy_end + gap)


def _patient_state(patient: Patient, bookings, states) -> PatientState:
    mine = [b for b in bookings if b.patient_id == patient.id]
    return PatientState(
        id=patient.id, state=states.get(patient.home_location_id, ""),
        cleared_for_dosing=cleared_for_dosing(patient),
        busy=iv.merge(Interval(b.start_at, b.end_at) for b in mine),
        dosing_dates=frozenset(b.local_date for b in mine if b.is_dosing))


def cleared_for_dosing(patient: Patient) -> bool:
    if patient.dosing_clearance_date is not None:
        return True
    consultation = select(SessionType.id).where(SessionType.category == "consultation")
    return bool(db.session.scalar(select(exists().where(and_(
        Appointment.patient_id == patient.id, Appointment.status == "fulfilled",
        Appointment.session_type_id.in_(consultation))))))

