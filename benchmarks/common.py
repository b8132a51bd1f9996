"""Shared pieces of `make load` and `make faults`: the worker process, the scriptable fake
Twilio, client loops, percentiles, and writing a marked section of BENCHMARKS.md.

Everything here talks to 127.0.0.1 only, and every loop is bounded in time and count.
benchmarks/run.py is imported, never edited (its Gunicorn class, API keys and slot picking).
"""
from __future__ import annotations

import datetime as dt
import json
import math
import os
import queue
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import requests
from sqlalchemy import select

from benchmarks import measure, run
from benchmarks.generate import AHEAD_WEEKS, SEED, generate
from tests.support.fake_twilio import FakeTwilio, _Scripted

ROOT = run.ROOT
RESULTS = ROOT / "benchmarks" / "results"
SECRET_KEY = measure.SECRET_KEY
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "load-and-faults-auth-token"
FROM = "+18055550199"
UTC = dt.timezone.utc
TIMEOUT = 30  # seconds, any one HTTP request


def pg_url(name: str) -> str:
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


# -- the service's environment -----------------------------------------------------------------
def service_environ() -> None:
    """What run.Gunicorn passes on from os.environ: no rate limit (one key makes all the load),
    quiet logs. Gunicorn itself adds DATABASE_URL, SECRET_KEY and SCHEDULER_EMBEDDED=false."""
    for name in [k for k in os.environ if k.startswith("TWILIO_")]:
        del os.environ[name]
    os.environ.update(RATE_LIMIT_ENABLED="false", LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1")


def worker_env(database_url: str, twilio_base: str, public_base: str, sms_rate: float = 100) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")}
    env.update(DATABASE_URL=database_url, SECRET_KEY=SECRET_KEY, SCHEDULER_EMBEDDED="false",
               TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN, TWILIO_FROM_NUMBER=FROM,
               TWILIO_API_BASE_URL=twilio_base, PUBLIC_BASE_URL=public_base,
               SMS_RATE_PER_SECOND=str(sms_rate), RATE_LIMIT_ENABLED="false", LOG_LEVEL="WARNING",
               PYTHONUNBUFFERED="1")
    return env


class Worker:
    """One `flask --app wsgi worker` process, its output in a file (a full pipe would block it)."""

    def __init__(self, env: dict, name: str = "worker"):
        self.env, self.name = env, name
        self.log_path = Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".log")[1])
        self.proc: subprocess.Popen | None = None
        self.started_at: float | None = None

    def start(self) -> "Worker":
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
                                         cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT)
        self.started_at = time.monotonic()
        return self

    @property
    def owner(self) -> str:
        """The lease owner it writes (scheduler.jobs.heartbeat.WORKER_NAME)."""
        return f"{socket.gethostname()}:{self.proc.pid}"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM (it finishes running jobs), then SIGKILL after 20 s."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def output(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def cleanup(self) -> None:
        self.stop()
        self.log_path.unlink(missing_ok=True)


class ScriptedTwilio(FakeTwilio):
    """The recording fake with two time-based behaviours the drills need, on top of its
    per-request scripts: every answer after `delay` seconds, and HTTP 500 (Twilio error
    20500) for every request until `fail_until` (time.monotonic())."""

    def __init__(self):
        super().__init__()
        self.delay = 0.0
        self.fail_until = 0.0
        self.answers = Counter()  # "201" / "500": answers given (scripted or not)

    def _next_script(self):
        scripted = super()._next_script()
        if scripted is not None:
            return scripted
        if time.monotonic() < self.fail_until:
            with self._lock:
                self.answers["500"] += 1
            return _Scripted("error", status=500, code=20500, message="Internal Server Error")
        if self.delay:
            return _Scripted("delay", delay=self.delay)
        return None

    def complete(self) -> list:
        """Requests that arrived whole (a SIGKILL can cut one mid-body: Twilio ignores those)."""
        return [r for r in list(self.requests)
                if len(r.raw_body) == int(r.headers.get("Content-Length") or 0)]

    def refs(self) -> Counter:
        """Whole requests per outbox id (the ref in the StatusCallback URL)."""
        return Counter(ref_of(r) for r in self.complete())


def ref_of(request) -> int | None:
    callback = request.form.get("StatusCallback") or ""
    try:
        return int(callback.rsplit("=", 1)[1])
    except (IndexError, ValueError):
        return None


# -- the clinic ------------------------------------------------------------------------------------
def fresh_clinic(url: str, today: dt.date) -> dict:
    """Drop and create the database, migrate it and load the standard clinic."""
    run.drop_pg(url, create=True)
    return generate(url, today, SEED, progress=False)


def setup_app(url: str):
    """The app (for direct database reads and writes), a front-desk key and the patients that
    may have dosing sessions."""
    from scheduler.extensions import db
    from scheduler.models import Patient

    app = run.make_app(url)
    key = run.api_key(app, "load and faults")
    with app.app_context():
        patients = list(db.session.scalars(select(Patient.id).where(
            Patient.dosing_clearance_date.is_not(None)).order_by(Patient.id)))
    return app, {"Authorization": f"Bearer {key}"}, patients


def zone_start(today: dt.date, weeks_after: int = 1) -> dt.date:
    """A Monday past the generated 12 weeks ahead: days that hold nothing yet."""
    ahead = today + dt.timedelta(weeks=AHEAD_WEEKS + weeks_after)
    return ahead + dt.timedelta(days=(7 - ahead.weekday()) % 7)


def booking_queue(base: str, headers: dict, today: dt.date, patients: list[int], weeks_after: int = 1):
    """Distinct bookable slots (run.plan_bookings: provider and room named, never in each
    other's way), as a queue the client threads take from."""
    work = queue.Queue()
    for body in run.plan_bookings(base, headers, zone_start(today, weeks_after), patients):
        work.put(body)
    return work


# -- client loops ------------------------------------------------------------------------------------
class Recorder:
    """Every request's (endpoint, status key, latency, time) and every 201's appointment id."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rows: list[tuple[str, str, float, float]] = []
        self.booked: list[int] = []  # appointment ids answered with 201
        self.failed_bookings: list[tuple[dict, str]] = []  # non-201, non-409 bookings

    def add(self, endpoint: str, key: str, latency: float, at: float) -> None:
        with self.lock:
            self.rows.append((endpoint, key, latency, at))


def status_key(response: requests.Response | None, exc: Exception | None = None) -> str:
    if response is None:
        return f"exception {type(exc).__name__}"
    if response.status_code < 400:
        return str(response.status_code)
    try:
        code = response.json().get("code")
    except ValueError:
        code = None
    return f"{response.status_code} {code}" if code else str(response.status_code)


def book_one(session: requests.Session, base: str, headers: dict, body: dict, rec: Recorder) -> None:
    t0 = time.perf_counter()
    response, exc = None, None
    try:
        response = session.post(f"{base}/api/v1/appointments", json=body, headers=headers, timeout=TIMEOUT)
    except requests.RequestException as e:
        exc = e
    key = status_key(response, exc)
    rec.add("booking", key, time.perf_counter() - t0, time.monotonic())
    if response is not None and response.status_code == 201:
        with rec.lock:
            rec.booked.append(response.json()["id"])
    elif response is None or response.status_code != 409:
        with rec.lock:
            rec.failed_bookings.append((body, key))


def search_one(session, base, headers, rng: random.Random, today: dt.date, rec: Recorder) -> None:
    """A front desk's week view: one location, one session type, 7 days in the next 8 weeks."""
    first = today + dt.timedelta(days=rng.randrange(1, 56))
    start = run.local_midnight(first)
    params = {"location_id": rng.choice((1, 2, 3)),
              "session_type": rng.choices(("ketamine_iv", "ketamine_im", "integration"), (6, 2, 2))[0],
              "start": start.isoformat(), "end": run.local_midnight(first + dt.timedelta(days=7)).isoformat()}
    timed_get(session, f"{base}/api/v1/slots", headers, params, "slot_search", rec)


def day_sheet_one(session, base, headers, rng: random.Random, today: dt.date, rec: Recorder) -> None:
    """One location's day, within four weeks either side of today (the busiest days)."""
    day = today + dt.timedelta(days=rng.randrange(-28, 29))
    timed_get(session, f"{base}/api/v1/appointments", headers,
              {"location_id": rng.choice((1, 2, 3)), "date": day.isoformat()}, "day_sheet", rec)


def timed_get(session, url, headers, params, endpoint, rec: Recorder) -> None:
    t0 = time.perf_counter()
    response, exc = None, None
    try:
        response = session.get(url, headers=headers, params=params, timeout=TIMEOUT)
    except requests.RequestException as e:
        exc = e
    rec.add(endpoint, status_key(response, exc), time.perf_counter() - t0, time.monotonic())


MIX = (("slot_search", 0.70), ("booking", 0.20), ("day_sheet", 0.10))


def mixed_clients(base: str, headers: dict, work: queue.Queue, today: dt.date, rec: Recorder,
                  clients: int, stop: threading.Event, seconds: float, mix=MIX,
                  max_requests: int = 1_000_000) -> list[threading.Thread]:
    """Start `clients` threads, each drawing its next request from `mix` (a seeded RNG per
    thread) until `stop` is set, `seconds` pass, or `max_requests` are made in all."""
    deadline = time.monotonic() + seconds
    made = {"n": 0}
    names = [name for name, _ in mix]
    weights = [w for _, w in mix]

    def client(i: int) -> None:
        rng = random.Random(SEED + i)
        with requests.Session() as session:
            while not stop.is_set() and time.monotonic() < deadline:
                with rec.lock:
                    if made["n"] >= max_requests:
                        return
                    made["n"] += 1
                what = rng.choices(names, weights)[0]
                if what == "booking":
                    try:
                        body = work.get_nowait()
                    except queue.Empty:  # every planned slot taken: search instead
                        what = "slot_search"
                    else:
                        book_one(session, base, headers, body, rec)
                        continue
                if what == "slot_search":
                    search_one(session, base, headers, rng, today, rec)
                else:
                    day_sheet_one(session, base, headers, rng, today, rec)

    threads = [threading.Thread(target=client, args=(i,), daemon=True, name=f"client-{i}")
               for i in range(clients)]
    for t in threads:
        t.start()
    return threads


# -- figures ------------------------------------------------------------------------------------------
def percentile(values, q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def ms(seconds) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def machine(url: str) -> dict:
    facts = run.machine(url)
    facts["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    return facts


def write_section(name: str, body: str) -> None:
    """Replace what is between <!-- name:start --> and <!-- name:end --> in BENCHMARKS.md
    (appending the markers at the end when absent); nothing else is touched."""
    path = ROOT / "BENCHMARKS.md"
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{start}\n{body.strip()}\n{end}"
    if start in text and end in text and text.index(start) < text.index(end):
        text = text[:text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def write_json(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


def wait_until(predicate, seconds: float, interval: float = 0.2):
    """Poll `predicate` until it returns something truthy or `seconds` pass; returns its last
    value (falsy on time-out)."""
    end = time.monotonic() + seconds
    while True:
        value = predicate()
        if value or time.monotonic() >= end:
            return value
        time.sleep(interval)  # polling a peer process: nothing to be notified by
