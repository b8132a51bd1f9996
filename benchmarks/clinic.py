"""The standard clinic as the HTTP benchmarks use it: a fresh database holding it, a key and
the patients who may be dosed, and distinct free slots to book (picked from /slots)."""
from __future__ import annotations

import datetime as dt
import queue

import requests
from sqlalchemy import select

from benchmarks.app import api_key, make_app
from benchmarks.generate import AHEAD_WEEKS, SEED, TZ, generate
from benchmarks.pgadmin import drop_pg

LOCATION_ID, SESSION_TYPE = 1, "ketamine_iv"  # Santa Barbara
BATCH_STARTS = ("08:00", "10:00", "12:00", "14:00")  # 6 rooms x these starts: never in each other's way
ZONE_WEEKS = 8
TIMEOUT = 30  # seconds, any one HTTP request


def local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), TZ)


def fresh_clinic(url: str, today: dt.date) -> dict:
    """Drop and create the database, migrate it and load the standard clinic."""
    drop_pg(url, create=True)
    return generate(url, today, SEED, progress=False)


def setup_app(url: str, key_name: str = "load and faults"):
    """The app (for direct database reads and writes), a front-desk key's headers and the
    patients that may have dosing sessions."""
    from scheduler.extensions import db
    from scheduler.models import Patient

    app = make_app(url)
    key = api_key(app, key_name)
    with app.app_context():
        patients = list(db.session.scalars(select(Patient.id).where(
            Patient.dosing_clearance_date.is_not(None)).order_by(Patient.id)))
    return app, {"Authorization": f"Bearer {key}"}, patients


def zone_start(today: dt.date, weeks_after: int = 1) -> dt.date:
    """A Monday past the generated 12 weeks ahead: days that hold nothing yet."""
    ahead = today + dt.timedelta(weeks=AHEAD_WEEKS + weeks_after)
    return ahead + dt.timedelta(days=(7 - ahead.weekday()) % 7)


def plan_bookings(base: str, headers: dict, first_day: dt.date, patients: list[int]) -> list[dict]:
    """Distinct slots from /slots over ZONE_WEEKS from `first_day`: at 08:00, 10:00, 12:00 and
    14:00 one booking per free room, each with its own provider and room, so no booking can take
    another's place (a batch's chairs are free and its providers idle again before the next
    batch starts)."""
    by_day: dict = {}
    for location_id in (1, 2, 3):
        for offset in range(0, ZONE_WEEKS * 7, 28):
            first = first_day + dt.timedelta(days=offset)
            last = min(first + dt.timedelta(days=28), first_day + dt.timedelta(days=ZONE_WEEKS * 7))
            r = requests.get(f"{base}/api/v1/slots", headers=headers, timeout=TIMEOUT, params={
                "location_id": location_id, "session_type": SESSION_TYPE,
                "start": local_midnight(first).isoformat(), "end": local_midnight(last).isoformat()})
            r.raise_for_status()
            for slot in r.json()["slots"]:
                start = dt.datetime.fromisoformat(slot["start"])
                if start.strftime("%H:%M") in BATCH_STARTS:
                    # One clinician stays free to watch: the monitoring count never refuses these.
                    count = min(len(slot["rooms"]), len(slot["providers"]) - 1)
                    for j in range(count):
                        by_day.setdefault((start.date(), location_id), []).append(
                            (slot["start"], slot["providers"][j], slot["rooms"][j]))
    bookings = []
    for day, location_id in sorted(by_day):
        for j, (start, provider_id, room_id) in enumerate(by_day[(day, location_id)]):
            # A different patient for every booking of a day: no patient rule can refuse it.
            patient = patients[(day.toordinal() * 80 + (location_id - 1) * 25 + j) % len(patients)]
            bookings.append({"patient_id": patient, "session_type": SESSION_TYPE, "location_id": location_id,
                             "start": start, "provider_id": provider_id, "room_id": room_id})
    # Interleave locations and days, as a front desk's traffic would be.
    bookings.sort(key=lambda b: (b["start"][11:16], b["start"][:10], b["location_id"]))
    return bookings


def booking_queue(base: str, headers: dict, today: dt.date, patients: list[int], weeks_after: int = 1):
    """plan_bookings past the generated weeks, as a queue the client threads take from."""
    work = queue.Queue()
    for body in plan_bookings(base, headers, zone_start(today, weeks_after), patients):
        work.put(body)
    return work
