"""HTTP client threads for `make load` and `make faults`: a front desk's mix of slot searches,
bookings and day sheets, every request recorded (endpoint, status, latency, time).

Every loop is bounded in time and count, and talks to 127.0.0.1 only.
"""
from __future__ import annotations

import datetime as dt
import queue
import random
import threading
import time
from collections import Counter

import requests

from benchmarks.clinic import TIMEOUT, local_midnight
from benchmarks.generate import SEED
from benchmarks.measure import latencies, ms

MIX = (("slot_search", 0.70), ("booking", 0.20), ("day_sheet", 0.10))


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

    def by_endpoint(self, since: float | None = None) -> dict:
        """Per endpoint: requests, responses by status, p50 / p95 / p99 and max latency."""
        rows = [r for r in self.rows if since is None or r[3] >= since]
        out = {}
        for endpoint in sorted({r[0] for r in rows}):
            mine = [r for r in rows if r[0] == endpoint]
            lat = [r[2] for r in mine]
            out[endpoint] = {"requests": len(mine), "statuses": dict(sorted(Counter(r[1] for r in mine).items())),
                             **latencies(lat), "max_ms": ms(max(lat), 1)}
        return out

    def errors(self, lo: float = float("-inf"), hi: float = float("inf")) -> Counter:
        """Error answers (is_error) between two times."""
        return Counter(r[1] for r in self.rows if lo <= r[3] <= hi and is_error(r[0], r[1]))


def is_error(endpoint: str, key: str) -> bool:
    """Anything but 200 / 201, and a booking's 409 (a refusal is an answer, not an error)."""
    if key in ("200", "201"):
        return False
    return not (endpoint == "booking" and key.startswith("409"))


def status_key(response: requests.Response | None, exc: Exception | None = None) -> str:
    """"201", "409 room_unavailable" (status and the API's error code), or the exception's name."""
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
    start = local_midnight(first)
    params = {"location_id": rng.choice((1, 2, 3)),
              "session_type": rng.choices(("ketamine_iv", "ketamine_im", "integration"), (6, 2, 2))[0],
              "start": start.isoformat(), "end": local_midnight(first + dt.timedelta(days=7)).isoformat()}
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
