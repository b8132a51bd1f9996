"""(c) Contention: CONTENDERS concurrent requests (one barrier) for one slot, same provider and
room, different patients: exactly one may succeed. Then the check that nothing anywhere is
double-booked: overlapping provider, room or patient ranges, and monitoring slack below zero."""
from __future__ import annotations

import datetime as dt
import threading

import requests
from sqlalchemy import select, text

from benchmarks.app import dispose, make_app
from benchmarks.clients import status_key
from benchmarks.clinic import LOCATION_ID, SESSION_TYPE, TIMEOUT, local_midnight
from benchmarks.generate import TZ
from benchmarks.report import OK

CONTENDERS = 50
OCCUPYING = "('booked', 'checked-in', 'fulfilled')"


def bench(base: str, headers: dict, day: dt.date, patients: list[int]) -> dict:
    start = dt.datetime.combine(day, dt.time(9, 0), TZ)
    r = requests.get(f"{base}/api/v1/slots", headers=headers, timeout=TIMEOUT, params={
        "location_id": LOCATION_ID, "session_type": SESSION_TYPE, "start": start.isoformat(),
        "end": (start + dt.timedelta(minutes=15)).isoformat()})
    (slot,) = r.json()["slots"]
    bodies = [{"patient_id": p, "session_type": SESSION_TYPE, "location_id": LOCATION_ID, "start": slot["start"],
               "provider_id": slot["providers"][0], "room_id": slot["rooms"][0]} for p in patients[:CONTENDERS]]
    barrier = threading.Barrier(CONTENDERS, timeout=TIMEOUT)
    results = [None] * CONTENDERS

    def contender(i):
        with requests.Session() as session:
            barrier.wait()
            results[i] = session.post(f"{base}/api/v1/appointments", json=bodies[i], headers=headers,
                                      timeout=TIMEOUT)

    threads = [threading.Thread(target=contender, args=(i,), daemon=True) for i in range(CONTENDERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT * 2)
    done = [r for r in results if r is not None]
    codes = {}
    for r in done:
        if r.status_code != 201:
            key = status_key(r)
            codes[key] = codes.get(key, 0) + 1
    return {"requests": CONTENDERS, "answered": len(done), "successes": sum(r.status_code == 201 for r in done),
            "refusals": codes, "slot": slot["start"]}


def integrity(url: str, contention_start: str) -> dict:
    """Overlapping provider, room or patient ranges, and monitoring slack below zero, anywhere
    (generated and booked over HTTP alike); rows at the contested slot."""
    from scheduler.domain.intervals import Interval
    from scheduler.extensions import db
    from scheduler.models import Location, SessionType
    from scheduler.services.scheduling.snapshot import load_snapshot

    app = make_app(url)
    out = {}
    with app.app_context():
        for name, column, end in (("provider", "provider_id", "provider_busy_end"),
                                  ("room", "room_id", "room_busy_end"), ("patient", "patient_id", "end_at")):
            out[f"{name}_overlaps"] = db.session.scalar(text(
                f"SELECT count(*) FROM appointments a JOIN appointments b ON a.{column} = b.{column} "
                f"AND a.id < b.id AND a.start_at < b.{end} AND b.start_at < a.{end} "
                f"WHERE a.status IN {OCCUPYING} AND b.status IN {OCCUPYING}"))
        st = db.session.scalar(select(SessionType).where(SessionType.code == SESSION_TYPE))
        breaches = 0
        days = db.session.execute(text(f"SELECT DISTINCT location_id, local_date FROM appointments "
                                       f"WHERE status IN {OCCUPYING} ORDER BY 1, 2")).all()
        for location_id, day in days:
            day = day if isinstance(day, dt.date) else dt.date.fromisoformat(day)
            window = Interval(local_midnight(day), local_midnight(day + dt.timedelta(days=1)))
            snap = load_snapshot(db.session.get(Location, location_id), st, window)
            breaches += snap.site.slack.min_over(window) < 0
        out["monitoring_capacity_breaches"] = breaches
        out["days_checked_for_capacity"] = len(days)
        out["rows_at_contested_slot"] = db.session.scalar(text(
            f"SELECT count(*) FROM appointments WHERE location_id = :loc AND start_at = :start "
            f"AND status IN {OCCUPYING}"), {"loc": LOCATION_ID, "start": dt.datetime.fromisoformat(contention_start)})
        out["appointments_total"] = db.session.scalar(text("SELECT count(*) FROM appointments"))
    dispose(app)
    return out


def verdicts(r: dict) -> dict:
    i, c = r["integrity"], r["contention"]
    double = i["provider_overlaps"] + i["room_overlaps"] + i["patient_overlaps"] + i["monitoring_capacity_breaches"]
    return {"contention_exactly_one_success": c["successes"] == 1 and i["rows_at_contested_slot"] == 1,
            "zero_double_bookings": double == 0}


def target_rows(r: dict) -> list[str]:
    c, i, v = r["contention"], r["integrity"], r["verdicts"]
    return [f"| contention: {CONTENDERS} requests, one slot, exactly 1 success | {c['successes']} success, "
            f"{i['rows_at_contested_slot']} row | {OK[v['contention_exactly_one_success']]} |",
            f"| zero double bookings | {i['provider_overlaps']} provider / {i['room_overlaps']} room / "
            f"{i['patient_overlaps']} patient overlaps, {i['monitoring_capacity_breaches']} capacity breaches "
            f"in {i['days_checked_for_capacity']} location-days | {OK[v['zero_double_bookings']]} |"]


def markdown_lines(r: dict) -> list[str]:
    c, i = r["contention"], r["integrity"]
    return ["## (c) Contention", "",
            f"{c['requests']} concurrent requests (one barrier) for {c['slot']}, same provider and room, "
            f"different patients: {c['successes']} success, refusals {c['refusals']}; "
            f"{i['rows_at_contested_slot']} appointment in the database at that slot.", ""]
