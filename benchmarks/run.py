"""`make bench`: the standard clinic on SQLite and PostgreSQL, measured; prints JSON and
writes BENCHMARKS.md.

(a) slot search (one location, ketamine_iv, 14 days) through the Flask test client: median
    and p95 over 50 runs, and SQL statements per search for 7, 14 and 28 days;
(b) booking throughput through real HTTP (gunicorn, 2 workers, PostgreSQL), 8 client
    threads booking distinct slots picked from /slots first;
(c) contention: 50 concurrent requests for one slot; exactly one may succeed;
(d) calendar (benchmarks/calendar_bench.py): a provider feed with 2,000 events (cold, warm,
    304) and a sync of a Radicale calendar with 500 events into busy blocks.

BENCHMARKS.md is rewritten wholesale, except the blocks between `<!-- load:start -->` and
`<!-- load:end -->` and between `<!-- faults:start -->` and `<!-- faults:end -->` (written by
`make load` and `make faults`): they are carried over verbatim to the end of the new file.

BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/scheduler_bench) names a
database this script drops and creates; BENCH_BOOKING_SECONDS bounds part (b).
"""
from __future__ import annotations

import cProfile
import datetime as dt
import json
import os
import platform
import pstats
import queue
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import requests
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from benchmarks import calendar_bench
from benchmarks.measure import SECRET_KEY, count_statements, make_app, ms, p95
from benchmarks.generate import AHEAD_WEEKS, SEED, TZ, generate

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/scheduler_bench"
LOCATION_ID, SESSION_TYPE = 1, "ketamine_iv"  # Santa Barbara
SEARCH_RUNS, WARMUP = 50, 5
CLIENTS, CONTENDERS = 8, 50
BOOKING_SECONDS = float(os.environ.get("BENCH_BOOKING_SECONDS", "20"))
BATCH_STARTS = ("08:00", "10:00", "12:00", "14:00")  # 6 rooms x these starts: never in each other's way
ZONE_WEEKS = 8
PROFILED_BOOKINGS = 42
TIMEOUT = 30
TARGETS = {"search_median_ms": 30, "search_p95_ms": 60, "bookings_per_second": 100}
OCCUPYING = "('booked', 'checked-in', 'fulfilled')"
PRESERVED_MARKERS = (("<!-- load:start -->", "<!-- load:end -->"), ("<!-- faults:start -->", "<!-- faults:end -->"))


def api_key(app, name: str) -> str:
    from scheduler.services.platform.api_keys import create_api_key

    with app.app_context():
        return create_api_key(name, "front_desk")[1]


def local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), TZ)


# -- databases ------------------------------------------------------------------------------
def maintenance(url: str) -> str:
    """The same server's `postgres` database, as a libpq URI."""
    return make_url(url).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)


def drop_pg(url: str, create: bool = False) -> None:
    name = make_url(url).database
    with psycopg.connect(maintenance(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')


# -- (a) slot search ---------------------------------------------------------------------------
def search_url(first_day: dt.date, days: int) -> str:
    start, end = local_midnight(first_day), local_midnight(first_day + dt.timedelta(days=days))
    return (f"/api/v1/slots?location_id={LOCATION_ID}&session_type={SESSION_TYPE}"
            f"&start={start.isoformat().replace('+', '%2B')}&end={end.isoformat().replace('+', '%2B')}")


def bench_search(url: str, today: dt.date, now: dt.datetime) -> dict:
    from scheduler.extensions import db

    app = make_app(url, now)
    headers = {"Authorization": f"Bearer {api_key(app, 'bench search')}"}
    client = app.test_client()
    first = today + dt.timedelta(days=1)
    fourteen = search_url(first, 14)
    found = client.get(fourteen, headers=headers)
    assert found.status_code == 200, found.get_data(as_text=True)
    for _ in range(WARMUP):
        client.get(fourteen, headers=headers)
    times = []
    for _ in range(SEARCH_RUNS):
        t0 = time.perf_counter()
        client.get(fourteen, headers=headers)
        times.append(time.perf_counter() - t0)
    statements = {}
    with app.app_context(), count_statements(db.engine) as counter:
        for days in (7, 14, 28):
            counts = []
            for _ in range(3):  # the least of three: a weakly referenced row may be fetched again
                counter["n"] = 0
                assert client.get(search_url(first, days), headers=headers).status_code == 200
                counts.append(counter["n"])
            statements[f"{days}_days"] = min(counts)
    result = {"runs": SEARCH_RUNS, "median_ms": ms(statistics.median(times)), "p95_ms": ms(p95(times)),
              "min_ms": ms(min(times)), "slots_found": len(found.get_json()["slots"]),
              "sql_statements_per_search": statements}
    result["_profile"] = lambda: profile(lambda: client.get(fourteen, headers=headers), 20, SEARCH_PARTS)
    with app.app_context():
        db.engine.dispose()
    return result


SEARCH_PARTS = {
    ("scheduler/services/slots.py", "find_slots"): "find_slots (the whole search)",
    ("scheduler/services/availability.py", "load_snapshot"): "load_snapshot (queries + building the snapshot)",
    ("scheduler/services/availability.py", "_bookings"): "  of which _bookings (the appointments, as column tuples)",
    ("scheduler/domain/scheduling.py", "watchers_and_slack"): "  of which watchers_and_slack",
    ("scheduler/domain/scheduling.py", "search"): "domain search (pure Python)",
    ("scheduler/domain/scheduling.py", "check_start"): "  of which check_start (starts left after the cheap filters)",
    ("scheduler/domain/localtime.py", "grid_starts"): "  of which grid_starts (the 15-minute grid, 96 a day)"}
BOOKING_PARTS = {
    ("scheduler/services/booking.py", "_book"): "booking service (one transaction)",
    ("scheduler/services/booking.py", "_lock_resources"): "  of which locks (location, its providers)",
    ("scheduler/services/booking.py", "_evaluate"): "  of which the rules (snapshot + check_start)",
    ("scheduler/services/outbox.py", "plan_booked"): "  of which planning the reminders (outbox)",
    ("scheduler/services/audit.py", "record"): "  of which the audit entry",
    ("scheduler/services/booking.py", "_commit"): "  of which the commit",
    ("flask_smorest/response.py", "wrapper"): "view + response (incl. the service)",
    ("scheduler/api/auth.py", "current_caller"): "API key check"}


def profile(call, runs: int, wanted: dict) -> dict:
    """cProfile `runs` calls; the cumulative time of the `wanted` functions per call."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(runs):
        call()
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    total = max(ct for (_f, _l, name), (_cc, _nc, _tt, ct, _c) in stats.items() if name == "wsgi_app")
    parts = {}
    for (filename, _line, name), (_cc, calls, _tt, cumulative, _c) in stats.items():
        label = next((text_ for (suffix, func), text_ in wanted.items()
                      if func == name and filename.endswith(suffix)), None)
        if label:
            parts[label] = {"ms_per_request": ms(cumulative / runs), "share": round(cumulative / total, 3),
                            "calls_per_request": round(calls / runs, 1)}
    rows = sum(nc for (f, _l, name), (_cc, nc, _tt, _ct, _c) in stats.items()
               if name == "_instance" and f.endswith("orm/loading.py"))
    top = sorted(stats.items(), key=lambda kv: kv[1][2], reverse=True)[:10]
    return {"runs": runs, "request_ms_under_profiler": ms(total / runs), "orm_rows_per_request": round(rows / runs),
            "parts": dict(sorted(parts.items(), key=lambda kv: list(wanted.values()).index(kv[0]))),
            "top_self_time": [{"function": f"{Path(f).name}:{line}({name})", "ms_per_request": ms(tt / runs)}
                              for (f, line, name), (_cc, _nc, tt, _ct, _c) in top]}


def profile_bookings(url: str, bodies: list[dict]) -> dict:
    """The same bookings in-process (Flask test client, PostgreSQL) under cProfile."""
    from scheduler.extensions import db

    app = make_app(url)
    headers = {"Authorization": f"Bearer {api_key(app, 'bench profile')}"}
    client = app.test_client()
    todo = iter(bodies)
    statuses = []

    def one():
        statuses.append(client.post("/api/v1/appointments", json=next(todo), headers=headers).status_code)

    one()  # warm-up
    with app.app_context(), count_statements(db.engine) as counter:
        counter["n"] = 0
        one()
        per_booking = counter["n"]
    result = profile(one, len(bodies) - 2, BOOKING_PARTS)
    result["sql_statements_per_booking"] = per_booking
    result["statuses"] = {str(s): statuses.count(s) for s in sorted(set(statuses))}
    with app.app_context():
        db.engine.dispose()
    return result


# -- (b) and (c) through gunicorn ------------------------------------------------------------------
class Gunicorn:
    def __init__(self, url: str, log_path: Path):
        self.url, self.log_path, self.proc = url, log_path, None
        self.base = None

    def __enter__(self) -> "Gunicorn":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {**os.environ, "DATABASE_URL": self.url, "SECRET_KEY": SECRET_KEY, "SCHEDULER_EMBEDDED": "false"}
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
                                      "--log-level", "warning", "wsgi:app"], cwd=ROOT, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{port}"
        try:
            self._wait_until_ready()
        except BaseException:
            self.__exit__()  # never leave a server behind
            raise
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log_path.read_text()[-2000:]}")
            try:
                if requests.get(self.base + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:  # not listening yet, or a worker still booting
                pass
            time.sleep(0.1)  # waiting for a process to listen: nothing to be notified by
        raise RuntimeError("gunicorn did not answer /healthz within 30 s")

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()


def plan_bookings(base: str, headers: dict, zone_start: dt.date, patients: list[int]) -> list[dict]:
    """Distinct slots from /slots: at 08:00, 10:00, 12:00 and 14:00 one booking per free room,
    each with its own provider and room, so no booking can take another's place (a batch's
    chairs are free and its providers idle again before the next batch starts)."""
    by_day: dict = {}
    for location_id in (1, 2, 3):
        for offset in range(0, ZONE_WEEKS * 7, 28):
            first = zone_start + dt.timedelta(days=offset)
            last = min(first + dt.timedelta(days=28), zone_start + dt.timedelta(days=ZONE_WEEKS * 7))
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


def cpu_seconds(pids) -> float:
    """User + system CPU of these processes so far (from /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    return found


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return sum(values) - values[3] - values[4], sum(values)


def bench_bookings(server: "Gunicorn", headers: dict, plan: list[dict]) -> tuple[list, dict]:
    base, workers = server.base, children(server.proc.pid)
    work = queue.Queue()
    for body in plan:
        work.put(body)
    latencies, statuses, lock = [], {}, threading.Lock()
    barrier = threading.Barrier(CLIENTS + 1, timeout=TIMEOUT)
    deadline = {}

    def client():
        with requests.Session() as session:
            barrier.wait()
            while time.monotonic() < deadline["at"]:
                try:
                    body = work.get_nowait()
                except queue.Empty:
                    return
                t0 = time.perf_counter()
                r = session.post(f"{base}/api/v1/appointments", json=body, headers=headers, timeout=TIMEOUT)
                elapsed = time.perf_counter() - t0
                key = str(r.status_code) if r.status_code == 201 else f"{r.status_code} {r.json().get('code')}"
                with lock:
                    latencies.append(elapsed)
                    statuses[key] = statuses.get(key, 0) + 1

    threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    deadline["at"] = time.monotonic() + BOOKING_SECONDS
    cpu0, own0, busy0 = cpu_seconds(workers), time.process_time(), machine_busy()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join(BOOKING_SECONDS + TIMEOUT + 5)
    wall = time.perf_counter() - t0
    cpu, own, busy = cpu_seconds(workers) - cpu0, time.process_time() - own0, machine_busy()
    booked = statuses.get("201", 0)
    left = []
    while not work.empty():
        left.append(work.get_nowait())
    return left, {"clients": CLIENTS, "gunicorn_workers": 2, "planned_distinct_slots": len(plan),
            "requests": len(latencies), "booked": booked, "seconds": round(wall, 2),
            "bookings_per_second": round(booked / wall, 1), "median_ms": ms(statistics.median(latencies)),
            "p95_ms": ms(p95(latencies)), "statuses": statuses,
            "cpu_ms_per_booking": {"gunicorn_workers": ms(cpu / max(booked, 1)),
                                   "benchmark_clients": ms(own / max(booked, 1))},
            "machine_cpu_busy": round((busy[0] - busy0[0]) / max(busy[1] - busy0[1], 1), 2)}


def bench_contention(base: str, headers: dict, day: dt.date, patients: list[int]) -> dict:
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
            key = f"{r.status_code} {r.json().get('code')}"
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
        db.engine.dispose()
    return out


# -- the report --------------------------------------------------------------------------------------
def machine(pg_url: str) -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    with psycopg.connect(maintenance(pg_url)) as c:
        pg = c.execute("SHOW server_version").fetchone()[0]
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, timeout=10).stdout.strip() or None
    except OSError:
        commit = None
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gib": round(mem_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "postgresql": pg, "sqlite": sqlite3.sqlite_version,
            "os": platform.platform(), "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": commit, "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


def verdicts(report: dict) -> dict:
    s, b = report["slot_search"]["sqlite"], report["booking_throughput"]
    i, c = report["integrity"], report["contention"]
    double = i["provider_overlaps"] + i["room_overlaps"] + i["patient_overlaps"] + i["monitoring_capacity_breaches"]
    return {"search_median_under_30ms_sqlite": s["median_ms"] < TARGETS["search_median_ms"],
            "search_p95_under_60ms_sqlite": s["p95_ms"] < TARGETS["search_p95_ms"],
            "statements_do_not_grow_with_days": all(
                max(n.values()) <= n["7_days"] for n in
                (report["slot_search"][d]["sql_statements_per_search"] for d in ("sqlite", "postgresql"))),
            "at_least_100_bookings_per_second_pg": b["bookings_per_second"] >= TARGETS["bookings_per_second"],
            "contention_exactly_one_success": c["successes"] == 1 and i["rows_at_contested_slot"] == 1,
            "zero_double_bookings": double == 0}


def main() -> None:
    pg_url = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_PG
    today = dt.datetime.now(TZ).date()
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    report = {"machine": machine(pg_url), "dataset": {"seed": SEED, "anchor_date": today.isoformat()}}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        sqlite_url = f"sqlite:///{tmp}/bench.sqlite3"
        drop_pg(pg_url, create=True)
        try:
            for name, url in (("sqlite", sqlite_url), ("postgresql", pg_url)):
                t0 = time.perf_counter()
                report["dataset"]["counts"] = generate(url, today, SEED)
                report["dataset"][f"load_seconds_{name}"] = round(time.perf_counter() - t0, 1)
            report["slot_search"] = {name: bench_search(url, today, now)
                                     for name, url in (("sqlite", sqlite_url), ("postgresql", pg_url))}
            report.update(http_part(pg_url, today))
            report["verdicts"] = verdicts(report)
            search_profile = report["slot_search"]["sqlite"].pop("_profile")
            report["slot_search"]["postgresql"].pop("_profile")
            if not all(report["verdicts"][k] for k in ("search_median_under_30ms_sqlite",
                                                       "search_p95_under_60ms_sqlite")):
                report["search_profile_sqlite"] = search_profile()
            # After the scheduling parts: it adds a provider, rooms, patients and busy blocks.
            report["calendar"] = calendar_bench.run(sqlite_url, pg_url, now)
            report["verdicts"].update(report["calendar"]["verdicts"])
        finally:
            drop_pg(pg_url)
    print(json.dumps(report, indent=2, default=str))
    path = ROOT / "BENCHMARKS.md"
    previous = path.read_text() if path.exists() else ""
    path.write_text(markdown(report, previous))


def http_part(pg_url: str, today: dt.date) -> dict:
    from scheduler.extensions import db
    from scheduler.models import Patient

    app = make_app(pg_url)
    headers = {"Authorization": f"Bearer {api_key(app, 'bench http')}"}
    with app.app_context():
        patients = list(db.session.scalars(select(Patient.id).where(
            Patient.dosing_clearance_date.is_not(None)).order_by(Patient.id)))
        db.engine.dispose()
    # Past the generated 12 weeks: the days booked here hold nothing else yet.
    ahead = today + dt.timedelta(weeks=AHEAD_WEEKS + 1)
    zone_start = ahead + dt.timedelta(days=(7 - ahead.weekday()) % 7)
    contention_day = zone_start + dt.timedelta(weeks=ZONE_WEEKS + 1)
    with tempfile.NamedTemporaryFile(prefix="gunicorn-", suffix=".log", delete=False) as log:
        log_path = Path(log.name)
    with Gunicorn(pg_url, log_path) as server:
        plan = plan_bookings(server.base, headers, zone_start, patients)
        left, throughput = bench_bookings(server, headers, plan)
        contention = bench_contention(server.base, headers, contention_day, patients)
    log_path.unlink(missing_ok=True)
    out = {}
    if throughput["bookings_per_second"] < TARGETS["bookings_per_second"] and len(left) >= 12:
        out["booking_profile_postgresql"] = profile_bookings(pg_url, left[:PROFILED_BOOKINGS])
    checks = integrity(pg_url, contention["slot"])
    return {"booking_throughput": throughput, "contention": contention, "integrity": checks, **out}


def preserved_blocks(previous: str) -> list[str]:
    """The `make load` / `make faults` blocks of the old BENCHMARKS.md, markers included,
    verbatim, in the order they appear there. A start marker without its end keeps
    everything after it (nothing of another person's text is dropped)."""
    found = []
    for start, end in PRESERVED_MARKERS:
        i = previous.find(start)
        if i < 0:
            continue
        j = previous.find(end, i + len(start))
        if j < 0:
            print(f"BENCHMARKS.md: {start} without {end}; kept everything after it", file=sys.stderr)
            found.append((i, previous[i:]))
        else:
            found.append((i, previous[i:j + len(end)]))
    blocks, reached = [], -1
    for at, block in sorted(found):
        if at >= reached:  # not inside a block already kept
            blocks.append(block)
            reached = at + len(block)
    return blocks


def markdown(r: dict, previous: str = "") -> str:
    m, d, s, b, c, i, v = (r["machine"], r["dataset"], r["slot_search"], r["booking_throughput"],
                           r["contention"], r["integrity"], r["verdicts"])
    ok = {True: "met", False: "**missed**"}
    lines = [
        "# Benchmarks", "",
        "Written by `make bench` (`benchmarks/run.py`) from its last real run; the raw JSON is at the end.",
        "Re-run it to refresh: it drops and recreates the PostgreSQL database named by `BENCH_DATABASE_URL`",
        f"(default `{DEFAULT_PG}`) and uses a temporary SQLite file.", "",
        "## Machine", "",
        f"- {m['nproc']} cores, {m['cpu']}, {m['ram_gib']} GiB RAM",
        f"- Python {m['python']}, PostgreSQL {m['postgresql']}, SQLite {m['sqlite']}, {m['os']}",
        f"- {m['date']}, commit {m['commit'] or 'unknown'}; load average at start "
        f"{' / '.join(str(x) for x in m['load_average_at_start'])} (a shared machine: other jobs may run)", "",
        "## Dataset: the standard clinic", "",
        f"Seed {d['seed']}, anchored on {d['anchor_date']} (26 weeks of history, 12 weeks ahead): "
        + ", ".join(f"{v_} {k}" for k, v_ in d["counts"].items())
        + f". Loaded in {d['load_seconds_sqlite']} s (SQLite) and {d['load_seconds_postgresql']} s (PostgreSQL),"
        " migrations included.", "",
        "## Targets", "", "| target | measured | |", "|---|---|---|",
        f"| slot search median < 30 ms (SQLite) | {s['sqlite']['median_ms']} ms | {ok[v['search_median_under_30ms_sqlite']]} |",
        f"| slot search p95 < 60 ms (SQLite) | {s['sqlite']['p95_ms']} ms | {ok[v['search_p95_under_60ms_sqlite']]} |",
        f"| SQL statements per search do not grow with days (7 / 14 / 28) | "
        f"{' / '.join(str(n) for n in s['sqlite']['sql_statements_per_search'].values())} (SQLite), "
        f"{' / '.join(str(n) for n in s['postgresql']['sql_statements_per_search'].values())} (PostgreSQL) | "
        f"{ok[v['statements_do_not_grow_with_days']]} |",
        f"| >= 100 bookings/s (PostgreSQL, gunicorn -w 2) | {b['bookings_per_second']} /s | "
        f"{ok[v['at_least_100_bookings_per_second_pg']]} |",
        f"| contention: 50 requests, one slot, exactly 1 success | {c['successes']} success, "
        f"{i['rows_at_contested_slot']} row | {ok[v['contention_exactly_one_success']]} |",
        f"| zero double bookings | {i['provider_overlaps']} provider / {i['room_overlaps']} room / "
        f"{i['patient_overlaps']} patient overlaps, {i['monitoring_capacity_breaches']} capacity breaches "
        f"in {i['days_checked_for_capacity']} location-days | {ok[v['zero_double_bookings']]} |",
        *calendar_target(r, ok), "",
        "## (a) Slot search", "",
        f"Location {LOCATION_ID} (Santa Barbara), `{SESSION_TYPE}`, 14 days from tomorrow, through the Flask "
        f"test client, {s['sqlite']['runs']} timed runs after {WARMUP} warm-up runs.", "",
        "| database | median | p95 | min | slots found | SQL statements (7 / 14 / 28 days) |",
        "|---|---|---|---|---|---|"]
    for name in ("sqlite", "postgresql"):
        x = s[name]
        counts = " / ".join(str(n) for n in x["sql_statements_per_search"].values())
        lines.append(f"| {name} | {x['median_ms']} ms | {x['p95_ms']} ms | {x['min_ms']} ms | "
                     f"{x['slots_found']} | {counts} |")
    lines += ["", "## (b) Booking throughput", "",
              f"gunicorn with {b['gunicorn_workers']} sync workers on PostgreSQL, {b['clients']} client threads, "
              f"each booking one of {b['planned_distinct_slots']} distinct slots picked from `/slots` beforehand "
              f"(provider and room named), for at most {BOOKING_SECONDS:g} s.", "",
              f"- {b['booked']} bookings in {b['seconds']} s: **{b['bookings_per_second']} bookings/s**",
              f"- latency median {b['median_ms']} ms, p95 {b['p95_ms']} ms",
              f"- CPU per booking: {b['cpu_ms_per_booking']['gunicorn_workers']} ms in the gunicorn workers, "
              f"{b['cpu_ms_per_booking']['benchmark_clients']} ms in the benchmark's client threads; the machine's "
              f"cores were {b['machine_cpu_busy']:.0%} busy (PostgreSQL and anything else running included)",
              f"- responses: {b['statuses']}", "",
              "## (c) Contention", "",
              f"{c['requests']} concurrent requests (one barrier) for {c['slot']}, same provider and room, "
              f"different patients: {c['successes']} success, refusals {c['refusals']}; "
              f"{i['rows_at_contested_slot']} appointment in the database at that slot.", ""]
    if "search_profile_sqlite" in r:
        lines += profile_lines("Where the slot search's time goes (cProfile, SQLite, 14 days)",
                               r["search_profile_sqlite"], search_reading(r))
    if "booking_profile_postgresql" in r:
        lines += profile_lines("Where a booking's time goes (cProfile, in-process, PostgreSQL)",
                               r["booking_profile_postgresql"], booking_reading(r))
    if "calendar" in r:
        lines += calendar_bench.markdown_lines(r["calendar"])
    lines += ["## Raw output", "", "```json", json.dumps(r, indent=2, default=str), "```", ""]
    for block in preserved_blocks(previous):
        lines += [block, ""]
    return "\n".join(lines)


def calendar_target(r: dict, ok: dict) -> list[str]:
    if "calendar" not in r:
        return []
    feed = r["calendar"]["feed"]
    measured = ", ".join(f"{x['cold']['median_ms']} / {x['cold']['p95_ms']} ms ({n})" for n, x in feed.items())
    verdict = r["calendar"]["verdicts"]["feed_2000_cold_median_under_500ms_and_p95_under_1s"]
    return [f"| provider feed, 2,000 events, \"well under a second\": cold render median < "
            f"{calendar_bench.FEED_TARGET_MEDIAN_MS} ms, p95 < {calendar_bench.FEED_TARGET_P95_MS} ms "
            f"(see Calendar) | {measured} | {ok[verdict]} |"]


def profile_lines(title: str, p: dict, analysis: str) -> list[str]:
    extra = f", {p['sql_statements_per_booking']} SQL statements" if "sql_statements_per_booking" in p else ""
    lines = [f"## {title}", "",
             f"{p['runs']} requests under the profiler: {p['request_ms_under_profiler']} ms each, "
             f"{p['orm_rows_per_request']} ORM objects loaded each{extra}.", "",
             "| part | ms per request | share | calls per request |", "|---|---|---|---|"]
    lines += [f"| {k} | {x['ms_per_request']} | {x['share']:.0%} | {x['calls_per_request']:g} |"
              for k, x in p["parts"].items()]
    lines += ["", "Most self time:", ""]
    lines += [f"- `{t['function']}`: {t['ms_per_request']} ms" for t in p["top_self_time"]]
    return lines + ["", analysis, ""]


def _part(p: dict, label: str) -> dict:
    return p["parts"].get(label, {"ms_per_request": 0.0, "share": 0.0, "calls_per_request": 0})


def search_reading(r: dict) -> str:
    """What the search profile says, from this run's figures."""
    p, s = r["search_profile_sqlite"], r["slot_search"]["sqlite"]
    labels = list(SEARCH_PARTS.values())
    snap, bookings, slack, domain, check, grid = (_part(p, labels[i]) for i in (1, 2, 3, 4, 5, 6))
    return (
        f"Reading: without the profiler the median is {s['median_ms']} ms (p95 {s['p95_ms']} ms) against the "
        f"{TARGETS['search_median_ms']} ms / {TARGETS['search_p95_ms']} ms targets. Under the profiler, loading the "
        f"snapshot is the larger part ({snap['share']:.0%}, {snap['ms_per_request']} ms): the appointments "
        f"({bookings['ms_per_request']} ms, fetched as column tuples), the monitoring slack "
        f"({slack['ms_per_request']} ms), and the rest: the other queries (rooms, rules with their providers: "
        f"{p['orm_rows_per_request']} ORM objects a request) and turning rules and opening hours into UTC intervals "
        f"day by day. The domain search is {domain['share']:.0%} ({domain['ms_per_request']} ms): `check_start` runs "
        f"{check['calls_per_request']:g} times for 14 days instead of at all 1,344 grid starts, since starts when "
        f"the location is closed or nobody qualified is free are dropped before it; the grid itself costs "
        f"{grid['ms_per_request']} ms. The number of statements is fixed (it does not grow with the window), so "
        "PostgreSQL's extra cost is per-statement round trips and row decoding. cProfile inflates pure-Python code "
        "with many small calls (interval objects, datetime arithmetic) more than the queries.")


def booking_reading(r: dict) -> str:
    """What the booking figures and profile say, from this run's figures."""
    b, p, m = r["booking_throughput"], r["booking_profile_postgresql"], r["machine"]
    labels = list(BOOKING_PARTS.values())
    locks, rules, outbox, commit = (_part(p, labels[i]) for i in (1, 2, 3, 5))
    cpu = b["cpu_ms_per_booking"]["gunicorn_workers"]
    worker_wall = 2 * 1000 / max(b["bookings_per_second"], 0.1)
    return (
        f"Reading: {b['bookings_per_second']} bookings/s with the machine's cores {b['machine_cpu_busy']:.0%} busy "
        f"(load average {' / '.join(str(x) for x in m['load_average_at_start'])} at the start; other jobs share "
        f"the machine). The gunicorn workers used {cpu} ms of CPU per booking, {cpu * b['bookings_per_second'] / 1000:.2f} "
        f"of the 2 cores at this rate, while each worker spent about {worker_wall:.0f} ms of wall time per booking "
        f"(2 workers / the rate): most of a booking's time in a worker is waiting, on PostgreSQL's "
        f"{p.get('sql_statements_per_booking', '?')} statements (each a round trip) and commit, and for CPU taken by "
        "everything else on the two cores (PostgreSQL itself, the client threads, other jobs). Two cores reach "
        f"{TARGETS['bookings_per_second']} bookings a second only if a booking's CPU everywhere (worker, PostgreSQL, "
        f"client) stays under 20 ms; the workers alone use {cpu} ms. Inside one request (in-process, profiled) the "
        f"rules are the largest part ({rules['share']:.0%}, {rules['ms_per_request']} ms: the snapshot of the "
        f"location and its providers over the day before and after, then `check_start`), then planning the "
        f"reminders ({outbox['share']:.0%}), the commit ({commit['share']:.0%}) and the locks "
        f"({locks['share']:.0%}: cheap). Where more would come from: fewer statements (the snapshot's small tables "
        "in one query, the outbox rows in one insert), a snapshot of only the affected day, and more cores (gunicorn "
        "workers scale until the per-location row lock serialises bookings at one location).")


if __name__ == "__main__":
    main()
