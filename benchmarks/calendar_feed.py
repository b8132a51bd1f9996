"""Calendar (a), the feed render: a provider with 2,000 appointments spread over the feed window
(90 days back, 366 ahead) and a few time-off entries, bulk-inserted into the standard clinic;
GET /calendar/providers/{id}.ics?token= through the Flask test client with a token from
POST /api/v1/calendar-tokens. The very first GET of the process; cold renders (the renderer's
per-event and VTIMEZONE caches cleared before each); warm renders (same request again, no
If-None-Match); the 304 (If-None-Match with the ETag). Run by benchmarks/calendar_bench.py."""
from __future__ import annotations

import datetime as dt
import random
import time

from sqlalchemy import insert, select

from benchmarks.app import api_key, dispose, make_app
from benchmarks.clinic import LOCATION_ID
from benchmarks.generate import SEED, TZ as LA, UTC
from benchmarks.measure import call_profile, count_statements, ms, summary

FEED_EVENTS = 2000
FEED_TIME_OFF = 12
FEED_RUNS = 20
FEED_TARGET_MEDIAN_MS, FEED_TARGET_P95_MS = 500, 1000  # "well under a second"
FEED_SLOTS = ("08:00", "09:15", "10:30", "11:45", "13:00", "14:15", "15:30")  # 75 min apart
FEED_PATIENTS = 40


def feed_window(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    from scheduler.services.calendars.feeds import _window

    return _window(now)


def seed_feed_provider(app, now: dt.datetime) -> tuple[int, dict]:
    """A prescriber with FEED_EVENTS non-overlapping appointments over the feed window: the
    weekdays' 75-minute grid, thinned evenly; their own rooms and patients, so nobody else's
    rows are in the way (PostgreSQL's exclusion constraints check every one)."""
    from scheduler.extensions import db
    from scheduler.models import (Appointment, AvailabilityRule, Patient, Provider, Room, SessionType,
                                  TimeOff)

    rng = random.Random(SEED)
    lo, hi = feed_window(now)
    with app.app_context():
        types = {st.code: st for st in db.session.scalars(select(SessionType).where(
            SessionType.code.in_(("ketamine_iv", "consultation"))))}
        provider = Provider(name="Feed Bench (prescriber)", capabilities=["prescriber"], licensed_states=["CA"],
                            phone="+18055559999")
        rooms = [Room(location_id=LOCATION_ID, name=f"feed bench {i + 1}", kind="treatment")
                 for i in range(len(FEED_SLOTS))]
        patients = [Patient(name=f"Feed Patient {i}", phone=f"+1805666{i:04d}", home_location_id=LOCATION_ID,
                            sms_consent=False, dosing_clearance_date=now.date() - dt.timedelta(days=400))
                    for i in range(FEED_PATIENTS)]
        db.session.add_all([provider, *rooms, *patients])
        db.session.flush()
        db.session.add_all(AvailabilityRule(provider_id=provider.id, location_id=LOCATION_ID, weekday=d,
                                            start_time=dt.time(8), end_time=dt.time(17)) for d in range(5))
        first = (lo.astimezone(LA) + dt.timedelta(days=1)).date()
        last = (hi.astimezone(LA) - dt.timedelta(days=1)).date()
        grid = [(first + dt.timedelta(days=n), j) for n in range((last - first).days + 1)
                for j in range(len(FEED_SLOTS)) if (first + dt.timedelta(days=n)).weekday() < 5]
        assert len(grid) >= FEED_EVENTS, f"only {len(grid)} weekday slots in the window"
        picked = [grid[i * len(grid) // FEED_EVENTS] for i in range(FEED_EVENTS)]
        rows = []
        for k, (day, j) in enumerate(picked):
            st = types["ketamine_iv"] if k % 3 else types["consultation"]
            dosing = st.category == "dosing"
            hh, mm = map(int, FEED_SLOTS[j].split(":"))
            start = dt.datetime.combine(day, dt.time(hh, mm), LA).astimezone(UTC)
            busy_end = start + dt.timedelta(minutes=st.administering_minutes)
            end = busy_end + dt.timedelta(minutes=st.monitoring_minutes)
            past = start < now
            roll = rng.random()
            status = ("fulfilled" if roll < 0.9 else "cancelled" if roll < 0.96 else "noshow") if past \
                else ("booked" if roll < 0.95 else "cancelled")
            # Rows written over the past weeks; some moved (SEQUENCE) since.
            updated = min(now, start) - dt.timedelta(days=rng.randrange(0, 30), minutes=rng.randrange(1440))
            rows.append(dict(
                patient_id=patients[(day.toordinal() * len(FEED_SLOTS) + j) % FEED_PATIENTS].id,
                session_type_id=st.id, location_id=LOCATION_ID, provider_id=provider.id, room_id=rooms[j].id,
                telehealth=False, status=status, start_at=start, end_at=end, provider_busy_end=busy_end,
                monitoring_start=busy_end if dosing else None, monitoring_end=end if dosing else None,
                room_busy_end=end + dt.timedelta(minutes=15), local_date=day, is_dosing=dosing,
                ride_arranged=True if dosing else None, notes="", sequence=rng.choice((0, 0, 0, 1, 2)),
                created_at=updated - dt.timedelta(days=7), updated_at=updated, created_by="calendar benchmark"))
        for i in range(0, len(rows), 500):
            db.session.execute(insert(Appointment.__table__), rows[i:i + 500])
        saturdays = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)
                     if (first + dt.timedelta(days=n)).weekday() == 5]
        days_off = [saturdays[i * len(saturdays) // FEED_TIME_OFF] for i in range(FEED_TIME_OFF)]
        for day in days_off:  # whole Saturdays: no session is in the way
            start = dt.datetime.combine(day, dt.time(0), LA).astimezone(UTC)
            db.session.add(TimeOff(provider_id=provider.id, start_at=start, end_at=start + dt.timedelta(days=1),
                                   reason="personal"))
        db.session.commit()
        provider_id = provider.id
        counts = {"appointments": len(rows), "cancelled_or_noshow": sum(r["status"] in ("cancelled", "noshow")
                                                                        for r in rows),
                  "time_off": len(days_off), "first": rows[0]["start_at"].isoformat(),
                  "last": rows[-1]["start_at"].isoformat()}
        db.session.remove()
    return provider_id, counts


FEED_PARTS = {
    ("scheduler/services/calendars/feeds.py", "check_token"): "token check",
    ("scheduler/services/calendars/feeds.py", "fingerprint"): "fingerprint (ETag: aggregates)",
    ("scheduler/services/calendars/feeds.py", "feed"): "feed() (query + render)",
    ("sqlalchemy/orm/session.py", "execute"): "  of which SQL (all statements of the request)",
    ("sqlalchemy/engine/result.py", "all"): "  of which fetching the rows",
    ("scheduler/services/calendars/feeds.py", "_event"): "  of which building FeedEvents",
    ("scheduler/adapters/ical_feed.py", "render_feed"): "  of which render_feed",
    ("scheduler/adapters/ical_feed.py", "_vevent"): "    of which icalendar VEVENTs built",
    ("icalendar/cal/component.py", "to_ical"): "    of which icalendar to_ical",
    ("scheduler/adapters/ical_feed.py", "_vtimezone"): "    of which VTIMEZONEs",
}


def clear_render_caches() -> None:
    from scheduler.adapters import ical_feed

    ical_feed._vevent_ical.cache_clear()
    ical_feed._vtimezone_ical.cache_clear()


def bench_feed(url: str, now: dt.datetime) -> dict:
    from scheduler.extensions import db

    app = make_app(url, now)
    t0 = time.perf_counter()
    provider_id, counts = seed_feed_provider(app, now)
    seed_s = time.perf_counter() - t0
    admin = api_key(app, "bench calendar", "admin")
    client = app.test_client()
    r = client.post("/api/v1/calendar-tokens", json={"provider_id": provider_id},
                    headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code == 201, r.get_data(as_text=True)
    path = f"/calendar/providers/{provider_id}.ics?token={r.get_json()['token']}"

    def get(**headers):
        t = time.perf_counter()
        resp = client.get(path, headers=headers)
        return time.perf_counter() - t, resp

    clear_render_caches()
    first_s, first = get()
    assert first.status_code == 200, first.get_data(as_text=True)[:500]
    body, etag = first.get_data(), first.headers["ETag"]
    cold, warm, not_modified = [], [], []
    for _ in range(FEED_RUNS):
        clear_render_caches()
        t, resp = get()
        assert resp.status_code == 200 and resp.get_data() == body, "cold render changed the body"
        cold.append(t)
    for _ in range(FEED_RUNS):
        t, resp = get()
        assert resp.status_code == 200 and resp.get_data() == body and resp.headers["ETag"] == etag
        warm.append(t)
    for _ in range(FEED_RUNS):
        t, resp = get(**{"If-None-Match": etag})
        assert resp.status_code == 304, resp.status_code
        not_modified.append(t)
    with app.app_context(), count_statements(db.engine) as counter:
        clear_render_caches()
        get()
        cold_statements, counter["n"] = counter["n"], 0
        get(**{"If-None-Match": etag})
        statements_304 = counter["n"]

    def cold_get():
        clear_render_caches()
        get()

    breakdown = call_profile(cold_get, 5, FEED_PARTS)
    warm_breakdown = call_profile(get, 10, FEED_PARTS)
    dispose(app)
    return {"provider_id": provider_id, "seeded": counts, "seed_seconds": round(seed_s, 2),
            "vevents": body.count(b"BEGIN:VEVENT"), "vtimezones": body.count(b"BEGIN:VTIMEZONE"),
            "body_bytes": len(body), "first_get_ms": ms(first_s), "cold": summary(cold), "warm": summary(warm),
            "not_modified_304": summary(not_modified),
            "sql_statements": {"cold": cold_statements, "304": statements_304},
            "cold_profile": breakdown, "warm_profile": warm_breakdown}



def markdown_lines(f: dict) -> list[str]:
    """The feed's table and breakdown; `f` is {database name: bench_feed(...)}."""
    seeded = next(iter(f.values()))["seeded"]
    lines = ["### Feed render (GET /calendar/providers/{id}.ics?token=)", "",
             f"A provider with {seeded['appointments']} appointments ({seeded['cancelled_or_noshow']} cancelled or "
             f"no-show, shown as CANCELLED) from {seeded['first'][:10]} to {seeded['last'][:10]} (the feed window: "
             f"90 days back, 366 ahead) and {seeded['time_off']} time-off days, bulk-inserted into the standard "
             f"clinic; token from `POST /api/v1/calendar-tokens`; Flask test client, {FEED_RUNS} runs each. "
             "*Cold*: the renderer's per-event and VTIMEZONE caches (`lru_cache` in `adapters/ical_feed.py`) "
             "cleared before each request, as after a worker restart or when every event changed; *warm*: the "
             "same request again (the body is re-assembled from cached VEVENTs); *304*: `If-None-Match` with the "
             "ETag (the fingerprint's aggregates only).", "",
             "| database | first GET | cold median / p95 | warm median / p95 | 304 median / p95 | body | "
             "VEVENTs | SQL statements (cold / 304) |", "|---|---|---|---|---|---|---|---|"]
    for name, x in f.items():
        lines.append(f"| {name} | {x['first_get_ms']} ms | {x['cold']['median_ms']} / {x['cold']['p95_ms']} ms | "
                     f"{x['warm']['median_ms']} / {x['warm']['p95_ms']} ms | "
                     f"{x['not_modified_304']['median_ms']} / {x['not_modified_304']['p95_ms']} ms | "
                     f"{x['body_bytes'] / 1024:.0f} KiB | {x['vevents']} | "
                     f"{x['sql_statements']['cold']} / {x['sql_statements']['304']} |")
    name = "postgresql" if "postgresql" in f else next(iter(f))
    cold_p, warm_p = f[name]["cold_profile"], f[name]["warm_profile"]
    lines += ["", f"Where a render's time goes (cProfile, {name}; cold: {cold_p['runs']} requests, "
                  f"{cold_p['ms_per_call_under_profiler']} ms each under the profiler; warm: {warm_p['runs']}, "
                  f"{warm_p['ms_per_call_under_profiler']} ms each):", "",
              "| part | cold: ms per request | share | warm: ms per request | share | calls per request |",
              "|---|---|---|---|---|---|"]
    for k, v in cold_p["parts"].items():
        w = warm_p["parts"].get(k, {"ms_per_call": 0, "share": 0})
        lines.append(f"| {k} | {v['ms_per_call']} | {v['share']:.0%} | {w['ms_per_call']} | {w['share']:.0%} | "
                     f"{v['calls_per_call']:g} |")
    lines += ["", READING.format(
        per_event=round(cold_p["parts"].get("  of which render_feed", {"ms_per_call": 0})["ms_per_call"]
                        / max(f[name]["vevents"], 1), 2),
        per_event_wall=round(f[name]["cold"]["median_ms"] / max(f[name]["vevents"], 1), 2))]
    return lines


READING = """Reading: a cold render is almost all icalendar: building each VEVENT and serialising it
(`to_ical`) costs {per_event} ms an event under the profiler, and the whole cold request
{per_event_wall} ms an event without it, so 2,000 events alone take most of the budget; the query, the FeedEvents and the fingerprint are small.
The renderer's per-event `lru_cache` makes a warm render cheap, but only inside one worker process and
only for unchanged events: after a restart, in each gunicorn worker, and whenever a LAST-MODIFIED or
SEQUENCE changes, the events pay the cold price. A warm request's remaining time is the 2,000-row query,
building the FeedEvents and moving a ~1 MB body. The 304 path costs only the token check and the
fingerprint's aggregate queries, whatever the feed's size."""
