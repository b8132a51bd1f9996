"""Property tests: the fast check, the oracle and check_start agree on random small clinics.

(a) integrity.violations and audit.audit name the same (rule, appointment) pairs on random
    schedules, many of them broken on purpose.
(b) check_start agrees with the oracle: a start it accepts, booked with its first room and
    any provider it offers, breaks nothing; a start it refuses with an invariant's code
    breaks something whichever qualified provider and suitable room take it.

The clinics: Santa Barbara (CA) and Portland (OR, in Los Angeles' or Denver's zone), maybe
Pasadena (CA) too, a nurse shared by the first two, 1-3 prescribers, nurses and therapists
with random weekly rules, time off and busy time, around the DST changes of 2027.
INTEGRITY_EXAMPLES sets how many examples each property runs (`make fuzz`: many more).

Hypothesis draws "simple" values (0, False, the first choice) far more often than others,
so throughout, the simple choice is the plausible one and the odd case needs the extreme.
"""
import dataclasses
import os
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from scheduler.domain.audit import audit
from scheduler.domain.availability import snapshot
from scheduler.domain.integrity import violations
from scheduler.domain.intervals import Interval
from scheduler.domain.schedule import OCCUPYING, RULES, AppointmentFacts, PatientFacts, RuleFacts, pairs
from scheduler.domain.scheduling import search
from tests.support.schedules import Clinic, ask

UTC = timezone.utc
LA, DENVER = "America/Los_Angeles", "America/Denver"
DAYS = (date(2027, 3, 14), date(2027, 11, 7), date(2027, 6, 9))  # spring forward, fall back, plain
M = timedelta(minutes=1)
PAST = datetime(2020, 1, 1, tzinfo=UTC)  # minimum notice never in play
NEW_START_ONLY = {"too_soon"}
# Dosing asked for most: it is what fills the monitoring windows the other rules compete for.
REQUESTED = ["ketamine_iv", "ketamine_im"] * 3 + ["esketamine_nasal", "ketamine_sublingual", "integration"] + [
    "consultation"] * 3
OFFICE_MINUTES = range(7 * 60, 18 * 60, 15)
EXAMPLES = int(os.environ.get("INTEGRITY_EXAMPLES", "40"))
PROPERTY = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
OPENINGS = [("07:00", "19:00")] * 6 + [("00:00", "24:00"), ("08:00", "18:00"), ("01:00", "03:30"), ("09:00", "16:00")]


def local_midnight(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(0)).replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)


@st.composite
def clinics(draw):
    """A Clinic builder (no appointments yet) and the three local dates around a base day."""
    base = draw(st.sampled_from(DAYS))
    dates = [base - timedelta(days=1), base, base + timedelta(days=1)]
    c = Clinic()
    locs = [c.location("CA", LA, opening=draw(st.sampled_from(OPENINGS)), ratio=draw(st.sampled_from([1, 1, 2, 3])),
                       turnover=draw(st.sampled_from([0, 15]))),
            c.location("OR", draw(st.sampled_from([LA, DENVER])), opening=draw(st.sampled_from(OPENINGS)),
                       ratio=draw(st.integers(1, 3)))]
    if not draw(st.booleans()):  # a third location, in California, mostly
        locs.append(c.location("CA", LA, opening=draw(st.sampled_from(OPENINGS)), ratio=draw(st.integers(1, 3))))
        c.travel[(locs[0].id, locs[2].id)] = draw(st.sampled_from([0, 30, 90]))
    for loc in locs:
        c.room(loc, "treatment", draw(st.integers(2, 3)))
        c.room(loc, "therapy", 1)
    if draw(st.booleans()):  # an inactive room
        r = c.rooms[0]
        c.rooms[0] = dataclasses.replace(r, active=False)
    shared = c.provider(["nurse"], states=("CA", "OR"))
    for kind in ("prescriber", "nurse", "therapist"):
        for _ in range(draw(st.integers(1 if kind == "prescriber" else 0, 1 if kind == "therapist" else 2))):
            caps = [kind] + (["prescriber"] if kind == "nurse" and draw(st.booleans()) else [])
            states = draw(st.sampled_from([("CA",), ("OR",), ("CA", "OR")]))
            c.provider(caps, states=states)
    if draw(st.integers(0, 5)) == 5:  # sometimes someone is inactive
        c.providers[-1] = dataclasses.replace(c.providers[-1], active=False)
    for p in c.providers:
        homes = locs if p is shared else {draw(st.sampled_from(locs)), *(
            [draw(st.sampled_from(locs))] if draw(st.integers(0, 3)) == 3 else [])}
        for loc in homes:
            days = {base, *draw(st.lists(st.sampled_from(dates), max_size=2))}
            if draw(st.integers(0, 3)) < 3:  # office hours, mostly
                start, length = draw(st.integers(12, 20)) * 30, draw(st.integers(6, 22)) * 30
            else:
                start, length = draw(st.integers(0, 40)) * 30, draw(st.integers(2, 24)) * 30
            end = time(23, 59, 59) if start + length >= 24 * 60 else time((start + length) // 60, (start + length) % 60)
            valid_from = base + timedelta(days=1) if draw(st.integers(0, 7)) == 7 else None
            for day in days:
                c.rules.append(RuleFacts(c._id(), p.id, loc.id, day.weekday(), time(start // 60, start % 60), end,
                                         valid_from=valid_from))
    for _ in range(3 - draw(st.integers(0, 3))):  # time off and busy time, mostly some
        p = draw(st.sampled_from(c.providers))
        start = local_midnight(draw(st.sampled_from(dates)), LA) + draw(st.integers(24, 72)) * 15 * M
        make = c.off if draw(st.booleans()) else c.busy_block
        make(p, start, start + draw(st.integers(4, 32)) * 15 * M)
    for _ in range(draw(st.integers(3, 6))):
        c.patient(state=draw(st.sampled_from(["CA", "OR"])), cleared=draw(st.integers(0, 4)) < 4)
    return c, locs, dates


@st.composite
def two_sites(draw):
    """Two Californian locations (A, C) some minutes apart and Portland (B), open all day;
    a nurse at A and C (and sometimes B) and a prescriber at A (sometimes C), each for part
    of one day: who may leave for where turns on who watches whom."""
    base = draw(st.sampled_from(DAYS))
    c = Clinic()
    a, b, cc = (c.location(state, tz, opening=("00:00", "24:00"), ratio=draw(st.integers(1, 3)))
                for state, tz in (("CA", LA), ("OR", draw(st.sampled_from([LA, DENVER]))), ("CA", LA)))
    c.travel[(a.id, cc.id)] = draw(st.sampled_from([0, 30, 90]))
    for loc in (a, b, cc):
        c.room(loc, "treatment", 3)
        c.room(loc, "therapy", 1)
    nurse = c.provider(["nurse"], states=("CA", "OR"))
    prescriber = c.provider(["prescriber"], states=("CA", "OR"))
    for p, loc, always in ((nurse, a, True), (nurse, cc, True), (nurse, b, False), (prescriber, a, True),
                           (prescriber, cc, False)):
        if always or draw(st.integers(0, 3)) == 3:
            start, length = draw(st.integers(14, 20)) * 30, draw(st.integers(4, 16)) * 30
            c.rules.append(RuleFacts(c._id(), p.id, loc.id, base.weekday(), time(start // 60, start % 60),
                                     time((start + length) // 60, (start + length) % 60)))
    c.patient()
    return c, [a, b, cc], [base, base, base]


def draw_start(draw, loc, dates):
    """A start on the 5-minute UTC grid, mostly in working hours."""
    day = draw(st.sampled_from([dates[1], dates[1], dates[1], dates[0], dates[2]]))
    kind = draw(st.integers(0, 7))  # office hours; else the hours DST changes; else any time
    minutes = draw(st.sampled_from(OFFICE_MINUTES) if kind < 6 else st.integers(12, 48).map(lambda k: 5 * k)
                   if kind == 6 else st.integers(0, 287).map(lambda k: 5 * k))
    return local_midnight(day, loc.timezone) + minutes * M


@st.composite
def booking(draw, c, locs, dates, plausible=True):
    """Random appointment facts: mostly a qualified provider of that location and a room of
    the right kind, sometimes anything at all."""
    code = draw(st.sampled_from(sorted(c.types)))
    st_ = c.types[code]
    loc = draw(st.sampled_from(locs))
    workers = {r.provider_id for r in c.rules if r.location_id == loc.id}
    fits = [p for p in c.providers if p.id in workers and p.capabilities & st_.capabilities]
    careful = plausible and bool(fits) and draw(st.integers(0, 3)) < 3
    provider = draw(st.sampled_from(fits if careful else c.providers))
    rooms = [r for r in c.rooms if r.location_id == loc.id and (r.kind == st_.room_kind or not careful)]
    telehealth = st_.telehealth_allowed and draw(st.booleans()) or (not careful and draw(st.integers(0, 9)) == 9)
    room = None if telehealth or not rooms or draw(st.integers(0, 19)) == 19 else draw(st.sampled_from(rooms))
    patient = draw(st.sampled_from(c.patients))
    dosing = [a for a in c.appointments if a.patient_id == patient.id and c.types[a.type_code].is_dosing]
    follows = draw(st.sampled_from(dosing)) if code == "integration" and dosing and not draw(st.booleans()) else None
    start = draw_start(draw, loc, dates)
    if follows is not None and not draw(st.booleans()):  # close to the end of what it follows
        start = follows.end + draw(st.integers(-4, 8)) * 15 * M
    a = c.book(code, loc, start, provider, patient, room, telehealth=telehealth, follows=follows)
    if draw(st.integers(0, 9)) == 9:
        c.appointments[-1] = a = dataclasses.replace(a, status=draw(st.sampled_from(
            ["checked-in", "fulfilled", "cancelled"])))
    return a


@st.composite
def schedules(draw, fewest=1):
    """A random clinic with random bookings, plausible or not: many break a rule."""
    c, locs, dates = draw(clinics())
    for _ in range(draw(st.integers(fewest, 14))):
        draw(booking(c, locs, dates, plausible=draw(st.booleans())))
    return c.schedule()


@settings(PROPERTY, max_examples=2 * EXAMPLES)  # the cheapest of the three
@given(st.data())
def test_integrity_and_audit_agree(data):
    schedule = data.draw(schedules())
    all_days = sorted(schedule.scope())
    assume(all_days)
    scope = set(data.draw(st.lists(st.sampled_from(all_days), min_size=1, unique=True))) \
        if data.draw(st.booleans()) else set(all_days)
    fast, oracle = pairs(violations(schedule, scope)), pairs(audit(schedule, scope))
    assert fast == oracle


def _clean(draw, c, locs, dates):
    """A schedule without violations: random bookings, each kept only if the oracle finds
    nothing broken once it is added."""
    candidates = [draw(booking(c, locs, dates)) for _ in range(draw(st.integers(0, 8)))]
    c.appointments = []
    schedule = c.schedule()
    for a in candidates:
        if a.status not in OCCUPYING or (a.follows_id is not None and a.follows_id not in schedule.appointments):
            continue
        trial = schedule.with_appointment(a)
        if not audit(trial, trial.scope()):
            schedule = trial
    return schedule


@pytest.mark.parametrize("world", ["any-clinic", "two-sites"])
@PROPERTY
@given(data=st.data())
def test_check_start_agrees_with_the_oracle(world, data):
    sparse = world == "two-sites"
    c, locs, dates = data.draw(two_sites() if sparse else clinics())
    schedule = c.schedule() if sparse else _clean(data.draw, c, locs, dates)
    if sparse:  # dosing sessions at the first location first: patients there to watch
        for _ in range(data.draw(st.integers(1, 4))):
            schedule = _request(data.draw, c, locs, dates, schedule, seed=True)
    for _ in range(data.draw(st.integers(1, 16))):  # each accepted request is booked: denser days
        schedule = _request(data.draw, c, locs, dates, schedule, elsewhere=sparse)


def _request(draw, c, locs, dates, schedule, seed=False, elsewhere=False):
    """Ask check_start for a new session or a move; check its answer against the oracle;
    return the schedule with the session booked when it was accepted. seed: a dosing
    session at the first location, at a start slot search offers. elsewhere: mostly at the
    other Californian location, close to the time of another session."""
    old = None
    if seed:
        pass
    elif schedule.appointments and draw(st.integers(0, 3)) == 3:  # a move: the same session, a new start
        old = draw(st.sampled_from(sorted(schedule.appointments.values(), key=lambda a: a.id)))
        code, loc = old.type_code, schedule.locations[old.location_id]
        patient, telehealth, new_id = schedule.patients[old.patient_id], old.telehealth, old.id
    if old is None:
        code = draw(st.sampled_from(REQUESTED[:7] if seed else REQUESTED))
        loc = locs[0] if seed else draw(st.sampled_from(
            [locs[2], locs[0], *locs] if elsewhere else [locs[0], *locs]))
        if seed or draw(st.integers(0, 3)) < 3:  # mostly a new patient: one dosing a day each
            patient = PatientFacts(max(schedule.patients) + 1, draw(st.sampled_from(["CA", "OR"])), True)
            schedule = schedule.with_patient(patient)
        else:
            patient = draw(st.sampled_from(sorted(schedule.patients.values(), key=lambda p: p.id)))
        telehealth = c.types[code].telehealth_allowed and draw(st.booleans())
        new_id = schedule.next_appointment_id()
    start = draw_start(draw, loc, dates)
    if not seed and schedule.appointments and draw(st.integers(0, 2)) < (2 if elsewhere else 1):  # near another
        other = draw(st.sampled_from(sorted(schedule.appointments.values(), key=lambda a: a.id)))
        start = other.start + draw(st.integers(-8, 8)) * 15 * M
    elif seed or not draw(st.booleans()):  # otherwise often one of the starts slot search offers that day
        local = start.astimezone(ZoneInfo(loc.timezone)).date()
        day = Interval(local_midnight(local, loc.timezone), local_midnight(local + timedelta(days=1), loc.timezone))
        snap = snapshot(schedule, loc.id, code, day, patient.id, exclude_id=old.id if old else None)
        offered = search(snap.site, snap.spec, day, snap.staff, snap.rooms, PAST, snap.patient, telehealth)
        if offered:
            start = draw(st.sampled_from(offered)).start
    out = ask(schedule, loc, code, start, patient, now=PAST, telehealth=telehealth,
              exclude_id=old.id if old else None)

    def booked(provider_id, room_id):
        a = AppointmentFacts.from_phases(new_id, out.phases, patient_id=patient.id, provider_id=provider_id,
                                         location=loc, room_id=room_id, type_code=code, telehealth=telehealth,
                                         follows_id=old.follows_id if old else None)
        return schedule.with_appointment(a)

    if out.ok:
        room = out.rooms[0] if out.rooms else None
        for provider_id in out.providers:
            after = booked(provider_id, room)
            assert audit(after, after.scope()) == [], (provider_id, room)
        return booked(draw(st.sampled_from(out.providers)), draw(st.sampled_from(out.rooms)) if out.rooms else None)
    assert out.code not in NEW_START_ONLY
    spec = c.types[code]
    qualified = [p.id for p in schedule.providers.values() if p.capabilities & spec.capabilities]
    rooms = [r.id for r in schedule.rooms.values() if r.location_id == loc.id and r.kind == spec.room_kind
             and r.active]
    for provider_id in qualified:
        for room_id in ([None] if telehealth or not rooms else rooms):
            after = booked(provider_id, room_id)
            assert audit(after, after.scope()), (out.code, provider_id, room_id)
    return schedule


def test_the_generators_reach_every_rule():
    """Guards the properties against checking nothing: over a fixed set of random clinics,
    every rule is broken somewhere (so the agreement is about something)."""
    seen = set()

    @settings(max_examples=60, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(schedules(fewest=4))
    def collect(s):
        seen.update(v.rule for v in violations(s, s.scope()))

    collect()
    assert set(RULES) - seen == set()

