"""domain.availability.snapshot is a drop-in for services' load_snapshot.

The same clinic, booked through the API, is read twice: by today's load_snapshot, and as
plain facts (a Schedule, loaded here the way the service will) handed to the pure
snapshot(). What check_start reads must be the same: the site's opening hours, slack and
prescriber cover, each provider's time on site, with patients and travelling, each room's
use, the patient's sessions; and slot search must offer the same starts.

When load_snapshot is rewired to the domain, this test has done its job.
"""
import datetime as dt

import pytest
from sqlalchemy import select

from scheduler.domain.availability import snapshot
from scheduler.domain.intervals import Interval, clip
from scheduler.domain.schedule import (
    AppointmentFacts,
    BusyFacts,
    LocationFacts,
    PatientFacts,
    ProviderFacts,
    RoomFacts,
    RuleFacts,
    Schedule,
    SessionTypeFacts,
    TimeOffFacts,
)
from scheduler.domain.scheduling import search
from scheduler.extensions import db
from scheduler.domain.vocabulary import OCCUPYING_STATUSES
from scheduler.models import (Appointment, AvailabilityRule, Location, Patient, Provider, Room,
                              SessionType, TimeOff, TravelTime)
from scheduler.models.calendar import BusyBlock, ExternalCalendar
from scheduler.services.scheduling.snapshot import MARGIN, cleared_for_dosing, load_snapshot
from tests.conftest import NOW
from tests.support import clinic as c

DAY = "2030-01-07"


def facts() -> Schedule:
    """Every row as a fact (what the service's loader will do for a window)."""
    states = dict(db.session.execute(select(Location.id, Location.state)).all())
    appts = db.session.scalars(select(Appointment).where(Appointment.status.in_(OCCUPYING_STATUSES))).all()
    return Schedule.of(
        locations=[LocationFacts(x.id, x.timezone, x.state, x.opening_hours, x.monitoring_ratio, x.turnover_minutes,
                                 x.slot_minutes, name=x.name) for x in db.session.scalars(select(Location))],
        rooms=[RoomFacts(r.id, r.location_id, r.kind, r.active, r.name) for r in db.session.scalars(select(Room))],
        providers=[ProviderFacts(p.id, frozenset(p.capabilities), frozenset(p.licensed_states), p.active, p.name)
                   for p in db.session.scalars(select(Provider))],
        rules=[RuleFacts(r.id, r.provider_id, r.location_id, r.weekday, r.start_time, r.end_time, r.valid_from,
                         r.valid_until) for r in db.session.scalars(select(AvailabilityRule))],
        time_off=[TimeOffFacts(t.id, t.provider_id, t.start_at, t.end_at) for t in db.session.scalars(select(TimeOff))],
        busy=[BusyFacts(b.id, b.provider_id, b.start_at, b.end_at) for b in db.session.scalars(select(BusyBlock))],
        travel={(t.location_a_id, t.location_b_id): t.minutes for t in db.session.scalars(select(TravelTime))},
        session_types=[SessionTypeFacts(t.code, t.category, frozenset(t.provider_capabilities), t.room_kind,
                                        t.administering_minutes, t.monitoring_minutes, t.rems, t.telehealth_allowed,
                                        t.min_notice_minutes, t.follow_window_hours, t.id)
                       for t in db.session.scalars(select(SessionType))],
        patients=[PatientFacts(p.id, states[p.home_location_id], cleared_for_dosing(p), p.home_location_id)
                  for p in db.session.scalars(select(Patient))],
        appointments=[AppointmentFacts(
            a.id, a.patient_id, a.provider_id, a.location_id, a.room_id, a.session_type.code, a.start_at,
            a.provider_busy_end, a.end_at, a.local_date, a.monitoring_start, a.monitoring_end, a.telehealth,
            a.follows_appointment_id, a.status) for a in appts])


def same_inputs(location, code, window, patient=None, exclude_id=None):
    """Both snapshots agree on everything check_start reads, within the loader's reach."""
    st = db.session.scalar(select(SessionType).where(SessionType.code == code))
    old = load_snapshot(location, st, window, patient, exclude_id=exclude_id)
    new = snapshot(facts(), location.id, code, window, patient.id if patient else None, exclude_id=exclude_id)
    reach = Interval(window.start - MARGIN, window.end + dt.timedelta(days=1) + MARGIN)
    assert new.spec == old.spec
    for name in ("location_id", "state", "ratio", "turnover", "grid_minutes"):
        assert getattr(new.site, name) == getattr(old.site, name), name
    assert new.site.opening == old.site.opening
    assert clip(new.site.prescribers_on_site, reach) == clip(old.site.prescribers_on_site, reach)
    t = reach.start
    while t < reach.end:
        assert new.site.slack.value_at(t) == old.site.slack.value_at(t), t
        t += dt.timedelta(minutes=5)
    assert [s.id for s in new.staff] == [s.id for s in old.staff]
    for n, o in zip(new.staff, old.staff):
        assert (n.capabilities, n.licensed_states) == (o.capabilities, o.licensed_states)
        for name in ("on_site", "busy", "travel", "free"):
            assert clip(getattr(n, name), reach) == clip(getattr(o, name), reach), (n.id, name)
        assert {d: m for d, m in n.load.items() if d in o.load} == o.load
    assert [r.id for r in new.rooms] == [r.id for r in old.rooms]
    for n, o in zip(new.rooms, old.rooms):
        assert clip(n.busy, reach) == clip(o.busy, reach) and n.load == o.load
    assert (new.patient is None) == (old.patient is None)
    if old.patient:
        for name in ("id", "state", "cleared_for_dosing", "busy", "dosing_dates"):
            assert getattr(new.patient, name) == getattr(old.patient, name), name
    return old, new


def book(api, patient, code, loc, hm, **extra):
    r = api.post("/appointments", json={"patient_id": patient.id, "session_type": code, "location_id": loc.id,
                                        "start": c.local(DAY, hm), **extra}, as_="front_desk")
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def day_window(day=DAY):
    start = dt.datetime.fromisoformat(c.local(day, "00:00"))
    return Interval(start, start + dt.timedelta(days=1))


@pytest.fixture
def busy_clinic(app, api):
    """Three locations, a roaming nurse, bookings of every category, time off, a busy block."""
    sb, pas, pdx = c.location("Santa Barbara"), c.location("Pasadena"), c.location("Portland", "OR")
    c.travel(sb, pas, 60)
    for loc in (sb, pas, pdx):
        c.rooms(loc, "treatment", 2)
        c.rooms(loc, "therapy", 1)
    presc = c.provider("Dr. P", ["prescriber"], at=sb, hours=("08:00", "16:00"))
    nurse = c.provider("N. Roaming", ["nurse"], states=("CA", "OR"), at=sb, hours=("07:00", "12:00"))
    c.work(nurse, pas, ("12:00", "18:00"))
    c.work(nurse, pdx, ("08:00", "17:00"), days=("tue",))
    c.provider("T. Talk", ["therapist"], states=("CA", "OR"), at=sb)
    c.provider("N. Pas", ["nurse"], at=pas, hours=("09:00", "13:00"))
    c.provider("Dr. Gone", ["prescriber"], at=sb).active = False
    people = [c.patient(sb, name=f"P{i}", phone=f"+1805555{1000 + i}") for i in range(6)]
    portlander = c.patient(pdx, name="Far", phone="+15035550199")
    db.session.add(TimeOff(provider_id=presc.id, start_at=dt.datetime.fromisoformat(c.local(DAY, "12:00")),
                           end_at=dt.datetime.fromisoformat(c.local(DAY, "13:00"))))
    cal = ExternalCalendar(provider_id=nurse.id, kind="ics", url="https://example.com/cal.ics")
    db.session.add(cal)
    db.session.flush()
    db.session.add(BusyBlock(calendar_id=cal.id, provider_id=nurse.id,
                             start_at=dt.datetime.fromisoformat(c.local(DAY, "16:00")),
                             end_at=dt.datetime.fromisoformat(c.local(DAY, "17:00"))))
    c.commit()
    first = book(api, people[0], "ketamine_iv", sb, "08:00", provider_id=nurse.id)
    book(api, people[1], "ketamine_im", sb, "09:00", provider_id=presc.id)
    book(api, people[0], "integration", sb, "11:00", follows_appointment_id=first["id"])
    book(api, people[2], "consultation", sb, "14:00")
    book(api, people[3], "ketamine_iv", pas, "14:00", provider_id=nurse.id)
    book(api, portlander, "integration", sb, "15:00", telehealth=True)
    return dict(sb=sb, pas=pas, pdx=pdx, people=people, first=first)


@pytest.mark.parametrize("code", ["ketamine_iv", "esketamine_nasal", "consultation", "integration"])
def test_the_same_inputs_and_the_same_slots(busy_clinic, code):
    for loc in (busy_clinic["sb"], busy_clinic["pas"]):
        for patient in (None, busy_clinic["people"][0], busy_clinic["people"][4]):
            old, new = same_inputs(loc, code, day_window(), patient)
            slots = [search(x.site, x.spec, day_window(), x.staff, x.rooms, NOW, x.patient) for x in (old, new)]
            assert slots[0] == slots[1]


def test_the_same_inputs_for_a_move_and_across_days(busy_clinic):
    sb, first = busy_clinic["sb"], busy_clinic["first"]
    same_inputs(sb, "ketamine_iv", Interval(dt.datetime.fromisoformat(first["start"]),
                                            dt.datetime.fromisoformat(first["start"]) + dt.timedelta(minutes=1)),
                busy_clinic["people"][0], exclude_id=first["id"])
    week = Interval(day_window().start, day_window().start + dt.timedelta(days=7))
    same_inputs(busy_clinic["pdx"], "ketamine_im", week, busy_clinic["people"][1])
