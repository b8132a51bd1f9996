"""The standard clinic for the benchmark, generated from a seed: same seed and anchor date,
same rows.

Three locations (Santa Barbara CA, Pasadena CA, Portland OR; America/Los_Angeles), six
treatment and three therapy rooms each, thirty providers (3 prescribers, 4 nurses and 3
therapists per location, Mon-Fri 08:00-17:00 at one location each, a few licensed in both
states), about 2,000 patients, and about 20,000 appointments over 26 weeks of history and
12 weeks ahead of the anchor date.

Each location-day is laid out room by room on the 15-minute grid: a session starts when
its room is free again (turnover included), only with a qualified provider free for the
administering time, only when the monitoring count allows it, and only with a patient
who has nothing else that day. So the rows keep the rules, and PostgreSQL's exclusion
constraints accept them. Rows go in with bulk inserts.

    python -m benchmarks.generate postgresql://postgres@127.0.0.1:5432/sched_bench
"""
from __future__ import annotations

import argparse
import datetime as dt
import heapq
import random
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, text
from tqdm import tqdm

from benchmarks.app import make_app

SEED = 20261125
TZ_NAME = "America/Los_Angeles"
TZ = ZoneInfo(TZ_NAME)
UTC = dt.timezone.utc
LOCATIONS = [  # name, slug, state, area code
    ("Santa Barbara", "santa-barbara", "CA", "805"),
    ("Pasadena", "pasadena", "CA", "626"),
    ("Portland", "portland", "OR", "503"),
]
TREATMENT_ROOMS, THERAPY_ROOMS = 6, 3
STAFF = (("prescriber", 3), ("nurse", 4), ("therapist", 3))  # per location: 30 providers
PATIENTS = 2000
HISTORY_WEEKS, AHEAD_WEEKS = 26, 12
DAY_START, DAY_MINUTES = dt.time(8, 0), 9 * 60  # staff hours 08:00-17:00
OPENING = {d: [["07:00", "19:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
RATIO, TURNOVER, GRID, BUCKET = 3, 15, 15, 5
DOSING_MIX = (("ketamine_iv", 55), ("ketamine_im", 20), ("esketamine_nasal", 15), ("ketamine_sublingual", 10))
THERAPY_MIX = (("integration", 75), ("consultation", 25))
CHUNK = 2000
FIRST = ("Alex Blake Casey Dana Eli Frankie Gray Harper Indy Jordan Kai Logan Morgan Noa Oakley Parker "
         "Quinn Riley Sage Taylor Uma Val Wren Yael Zion").split()
LAST = ("Alvarez Brooks Chen Diaz Evans Foster Garcia Hughes Ito Jensen Kim Lopez Mendez Nguyen Ortiz "
        "Patel Quintero Rossi Singh Tanaka Usman Vargas Wong Young Zhang").split()


@dataclass
class Clinic:
    """Every row to insert, as plain dicts, with explicit ids (so the layout is known)."""

    today: dt.date
    locations: list = field(default_factory=list)
    rooms: list = field(default_factory=list)
    providers: list = field(default_factory=list)
    rules: list = field(default_factory=list)
    travel: list = field(default_factory=list)
    patients: list = field(default_factory=list)
    appointments: list = field(default_factory=list)

    def counts(self) -> dict:
        dosing = sum(1 for a in self.appointments if a["is_dosing"])
        return {"locations": len(self.locations), "rooms": len(self.rooms), "providers": len(self.providers),
                "patients": len(self.patients), "appointments": len(self.appointments),
                "dosing": dosing, "integration_or_consultation": len(self.appointments) - dosing}


def at(day: dt.date, minutes: int) -> dt.datetime:
    """The UTC instant `minutes` after 08:00 local on `day` (no DST change happens in the day)."""
    return dt.datetime.combine(day, DAY_START, TZ).astimezone(UTC) + dt.timedelta(minutes=minutes)


def plan(types: dict, today: dt.date, seed: int = SEED) -> Clinic:
    """``types`` maps session type code to {id, administering, monitoring, category, capabilities}."""
    rng = random.Random(seed)
    clinic = Clinic(today=today)
    ids = iter(range(1, 10_000))
    for n, (name, slug, state, area) in enumerate(LOCATIONS, start=1):
        clinic.locations.append(dict(
            id=n, name=name, slug=slug, timezone=TZ_NAME, state=state, phone=f"+1{area}5550100",
            sms_display_name=f"{name} Wellness", address=f"{n} Benchmark Way, {name}, {state}",
            opening_hours=OPENING, monitoring_ratio=RATIO, turnover_minutes=TURNOVER, slot_minutes=GRID))
        for kind, count in (("treatment", TREATMENT_ROOMS), ("therapy", THERAPY_ROOMS)):
            for i in range(count):
                clinic.rooms.append(dict(id=len(clinic.rooms) + 1, location_id=n, name=f"{kind} {i + 1}", kind=kind))
        for capability, count in STAFF:
            for i in range(count):
                pid = len(clinic.providers) + 1
                # The first of each kind at every location is licensed in both states.
                licences = ["CA", "OR"] if i == 0 else [state]
                clinic.providers.append(dict(id=pid, name=f"{rng.choice(FIRST)} {rng.choice(LAST)} ({capability})",
                                             capabilities=[capability], licensed_states=licences,
                                             phone=f"+1{area}555{1000 + pid:04d}"))
                for weekday in range(5):
                    clinic.rules.append(dict(id=next(ids), provider_id=pid, location_id=n, weekday=weekday,
                                             start_time=DAY_START, end_time=dt.time(17, 0)))
    clinic.travel.append(dict(id=1, location_a_id=1, location_b_id=2, minutes=120))
    for pid in range(1, PATIENTS + 1):
        home = rng.choices((1, 2, 3), weights=(40, 35, 25))[0]
        area = LOCATIONS[home - 1][3]
        cleared = rng.random() < 0.85
        clinic.patients.append(dict(
            id=pid, name=f"{rng.choice(FIRST)} {rng.choice(LAST)}", phone=f"+1{area}7{pid:06d}",
            home_location_id=home, sms_consent=rng.random() < 0.9,
            date_of_birth=dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(18_000)),
            dosing_clearance_date=today - dt.timedelta(days=rng.randrange(200, 400)) if cleared else None))
    _appointments(clinic, types, rng)
    return clinic


def _occupancy(day: dt.date, today: dt.date) -> float:
    """Nearly full in the past; thinning out over the weeks ahead."""
    if day < today:
        return 0.92
    return max(0.2, 0.85 - 0.06 * ((day - today).days // 7))


def _appointments(clinic: Clinic, types: dict, rng: random.Random) -> None:
    start = clinic.today - dt.timedelta(weeks=HISTORY_WEEKS)
    days = [start + dt.timedelta(days=i) for i in range((HISTORY_WEEKS + AHEAD_WEEKS) * 7)]
    for loc in clinic.locations:
        staff = [p for p in clinic.providers if p["id"] in
                 {r["provider_id"] for r in clinic.rules if r["location_id"] == loc["id"]}]
        rooms = [r for r in clinic.rooms if r["location_id"] == loc["id"]]
        patients = [p for p in clinic.patients if p["home_location_id"] == loc["id"]]
        recent: list[dict] = []  # dosing sessions an integration session may follow
        for day in days:
            if day.weekday() < 5:
                recent = [a for a in recent if (day - a["local_date"]).days <= 3]
                _day(clinic, loc, day, staff, rooms, patients, types, recent, rng)


def _day(clinic, loc, day, staff, rooms, patients, types, recent, rng) -> None:
    occupancy = _occupancy(day, clinic.today)
    n = DAY_MINUTES // BUCKET
    admin, monitored = [0] * n, [0] * n  # clinicians administering; patients being monitored
    clinicians = sum(1 for p in staff if set(p["capabilities"]) & {"nurse", "prescriber"})
    busy = {p["id"]: [] for p in staff}
    taken: set[int] = set()
    queue = [(0, r["id"], r) for r in rooms]
    heapq.heapify(queue)
    while queue:
        t, _, room = heapq.heappop(queue)
        treatment = room["kind"] == "treatment"
        if rng.random() > (occupancy if treatment else occupancy * 0.6):
            _later(queue, t + rng.choice((15, 30, 45, 60)), room)
            continue
        mix = DOSING_MIX if treatment else THERAPY_MIX
        code = rng.choices([c for c, _ in mix], weights=[w for _, w in mix])[0]
        st = types[code]
        adm, mon = st["administering"], st["monitoring"]
        if t + adm + mon > DAY_MINUTES:
            continue  # nothing more fits in this room today
        b0, b1, b2 = t // BUCKET, (t + adm) // BUCKET, (t + adm + mon) // BUCKET
        if st["category"] == "dosing":
            fits = all(RATIO * (clinicians - admin[i]) - monitored[i] >= RATIO for i in range(b0, b1)) and \
                all(RATIO * (clinicians - admin[i]) - monitored[i] >= 1 for i in range(b1, b2))
        else:  # a prescriber in a consultation must not leave anyone unwatched
            fits = all(RATIO * (clinicians - admin[i] - 1) - monitored[i] >= 0 for i in range(b0, b1))
        free = [p for p in staff if set(p["capabilities"]) & st["capabilities"]
                and not any(s < t + adm and t < e for s, e in busy[p["id"]])]
        if not fits or not free:
            _later(queue, t + GRID, room)
            continue
        provider = min(free, key=lambda p: (sum(e - s for s, e in busy[p["id"]]), rng.random()))
        patient, follows = _patient(st, patients, taken, recent, at(day, t), rng)
        if patient is None:
            continue
        busy[provider["id"]].append((t, t + adm))
        if "therapist" not in provider["capabilities"]:
            for i in range(b0, b1):
                admin[i] += 1
        for i in range(b1, b2):
            monitored[i] += 1
        appt = _row(clinic, loc, day, t, st, provider["id"], room["id"], patient, follows, rng)
        if appt["is_dosing"]:
            recent.append(appt)
        room_free = t + adm + mon + TURNOVER
        _later(queue, -(-room_free // GRID) * GRID, room)


def _later(queue, t, room) -> None:
    if t < DAY_MINUTES:
        heapq.heappush(queue, (t, room["id"], room))


def _patient(st, patients, taken, recent, start, rng):
    """Someone free all day (one session per patient per day keeps every patient rule)."""
    if st["category"] == "integration":
        for first in recent:
            if first["patient_id"] not in taken and first["end_at"] <= start and not first.get("followed") \
                    and first["status"] in ("fulfilled", "booked"):
                first["followed"] = True
                taken.add(first["patient_id"])
                return first["patient_id"], first["id"]
    want_cleared = st["category"] != "consultation"
    for _ in range(50):
        p = rng.choice(patients)
        if p["id"] not in taken and (p["dosing_clearance_date"] is not None) == want_cleared:
            taken.add(p["id"])
            return p["id"], None
    return None, None


def _row(clinic, loc, day, t, st, provider_id, room_id, patient_id, follows, rng) -> dict:
    start = at(day, t)
    provider_end = start + dt.timedelta(minutes=st["administering"])
    end = provider_end + dt.timedelta(minutes=st["monitoring"])
    dosing = st["category"] == "dosing"
    past = day < clinic.today
    roll = rng.random()
    status = ("fulfilled" if roll < 0.88 else "cancelled" if roll < 0.94 else "noshow") if past \
        else ("booked" if roll < 0.97 else "cancelled")
    row = dict(
        id=len(clinic.appointments) + 1, patient_id=patient_id, session_type_id=st["id"],
        location_id=loc["id"], provider_id=provider_id, room_id=room_id, telehealth=False, status=status,
        start_at=start, end_at=end, provider_busy_end=provider_end,
        monitoring_start=provider_end if dosing and st["monitoring"] else None,
        monitoring_end=end if dosing and st["monitoring"] else None,
        room_busy_end=end + dt.timedelta(minutes=TURNOVER), local_date=day, is_dosing=dosing,
        ride_arranged=True if dosing else None, notes="", follows_appointment_id=follows,
        confirmed_at=start - dt.timedelta(days=1) if status != "cancelled" and rng.random() < 0.7 else None,
        checked_in_at=start if status == "fulfilled" else None,
        completed_at=end if status == "fulfilled" else None,
        cancelled_at=start - dt.timedelta(days=2) if status == "cancelled" else None,
        cancel_reason="Patient rescheduled" if status == "cancelled" else None,
        created_by="benchmark generator")
    clinic.appointments.append(row)
    return row


def session_types() -> dict:
    from scheduler.extensions import db
    from scheduler.models import SessionType

    return {st.code: dict(id=st.id, administering=st.administering_minutes, monitoring=st.monitoring_minutes,
                          category=st.category, capabilities=set(st.provider_capabilities or ()))
            for st in db.session.scalars(select(SessionType))}


def load(clinic: Clinic, progress: bool = True) -> None:
    """Bulk-insert the clinic into the app's (migrated, empty) database."""
    from scheduler.extensions import db
    from scheduler.models import (Appointment, AvailabilityRule, Location, Patient, Provider, Room,
                                  TravelTime)

    tables = ((Location, clinic.locations), (Room, clinic.rooms), (Provider, clinic.providers),
              (AvailabilityRule, clinic.rules), (TravelTime, clinic.travel), (Patient, clinic.patients),
              (Appointment, [{k: v for k, v in a.items() if k != "followed"} for a in clinic.appointments]))
    total = sum(len(rows) for _, rows in tables)
    with tqdm(total=total, unit="rows", desc="loading the standard clinic", disable=not progress) as bar:
        for model, rows in tables:
            for i in range(0, len(rows), CHUNK):
                db.session.execute(insert(model.__table__), rows[i:i + CHUNK])
                bar.update(len(rows[i:i + CHUNK]))
    db.session.commit()
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            for model, _ in tables:  # explicit ids: move the sequences past them
                name = model.__tablename__
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                  f"(SELECT COALESCE(MAX(id), 1) FROM {name}))"))
        conn.execute(text("ANALYZE"))


def generate(database_url: str, today: dt.date | None = None, seed: int = SEED, progress: bool = True) -> dict:
    """Migrate the database, refuse a non-empty one, load the clinic; returns the counts."""
    from flask_migrate import upgrade

    from scheduler.extensions import db
    from scheduler.models import Location

    today = today or dt.date.today()
    app = make_app(database_url)
    with app.app_context():
        upgrade()
        if db.session.scalar(select(func.count()).select_from(Location)):
            raise SystemExit("the database already holds a clinic: give an empty one")
        clinic = plan(session_types(), today, seed)
        load(clinic, progress)
        db.session.remove()
        db.engine.dispose()
    return clinic.counts()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_url", help="postgresql://... or sqlite:///path (migrated here)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--today", type=dt.date.fromisoformat, default=None,
                        help="anchor date: 26 weeks of history before it, 12 weeks ahead (default: today)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    print(generate(args.database_url, args.today, args.seed, progress=not args.quiet))


if __name__ == "__main__":
    main()
