"""(b) Booking throughput through real HTTP: gunicorn -w 2 on PostgreSQL, CLIENTS client
threads booking distinct slots picked from /slots first, for at most BOOKING_SECONDS; the CPU
the workers used per booking; and the SQL a booking costs per real HTTP request."""
from __future__ import annotations

import os
import queue
import threading
import time

import requests

from benchmarks.clients import status_key
from benchmarks.clinic import TIMEOUT
from benchmarks.measure import median, ms, per_request, percentile, server_counts, spread
from benchmarks.processes import Gunicorn, busy_share, cpu_seconds, machine_busy
from benchmarks.report import OK

CLIENTS = 8
BOOKING_SECONDS = float(os.environ.get("BENCH_BOOKING_SECONDS", "20"))
TARGET_PER_SECOND = 100
HTTP_RUNS = 10  # bookings counted through gunicorn


def bench(server: Gunicorn, headers: dict, plan: list[dict]) -> tuple[list, dict]:
    """The bookings per second, latency and CPU; also the planned bodies nobody took (in order)."""
    base, workers = server.base, server.workers()
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
                key = status_key(r)
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
                  "bookings_per_second": round(booked / wall, 1), "median_ms": ms(median(latencies)),
                  "p95_ms": ms(percentile(latencies, 95)), "statuses": statuses,
                  "cpu_ms_per_booking": {"gunicorn_workers": ms(cpu / max(booked, 1)),
                                         "benchmark_clients": ms(own / max(booked, 1))},
                  "machine_cpu_busy": busy_share(busy0, busy)}


def counts_over_http(base: str, headers: dict, bodies: list[dict]) -> dict:
    """The bodies booked one after another through a gunicorn started with count_statements:
    each request's statements, pool checkouts and transactions, as its worker counted them."""
    rows = []
    with requests.Session() as session:
        for body in bodies:
            r = session.post(f"{base}/api/v1/appointments", json=body, headers=headers, timeout=TIMEOUT)
            assert r.status_code == 201, r.text[:300]
            rows.append(server_counts(r))
    return per_request(rows)


def verdicts(r: dict) -> dict:
    return {"at_least_100_bookings_per_second_pg": r["booking_throughput"]["bookings_per_second"]
            >= TARGET_PER_SECOND}


def target_rows(r: dict) -> list[str]:
    b = r["booking_throughput"]
    return [f"| >= {TARGET_PER_SECOND} bookings/s (PostgreSQL, gunicorn -w 2) | {b['bookings_per_second']} /s | "
            f"{OK[r['verdicts']['at_least_100_bookings_per_second_pg']]} |"]


def markdown_lines(r: dict) -> list[str]:
    b = r["booking_throughput"]
    lines = ["## (b) Booking throughput", "",
             f"gunicorn with {b['gunicorn_workers']} sync workers on PostgreSQL, {b['clients']} client threads, "
             f"each booking one of {b['planned_distinct_slots']} distinct slots picked from `/slots` beforehand "
             f"(provider and room named), for at most {BOOKING_SECONDS:g} s.", "",
             f"- {b['booked']} bookings in {b['seconds']} s: **{b['bookings_per_second']} bookings/s**",
             f"- latency median {b['median_ms']} ms, p95 {b['p95_ms']} ms",
             f"- CPU per booking: {b['cpu_ms_per_booking']['gunicorn_workers']} ms in the gunicorn workers, "
             f"{b['cpu_ms_per_booking']['benchmark_clients']} ms in the benchmark's client threads; the machine's "
             f"cores were {b['machine_cpu_busy']:.0%} busy (PostgreSQL and anything else running included)",
             f"- responses: {b['statuses']}"]
    in_process = r.get("booking_profile_postgresql", {}).get("sql_statements_per_booking")
    http = {name: x["booking"] for name, x in r.get("per_http_request", {}).items() if x.get("booking")}
    if in_process is not None or http:
        counted = [f"{in_process} in-process (one request in a shared app context, PostgreSQL)"] \
            if in_process is not None else []
        counted += [f"{spread(x['statements'])} per real HTTP request through gunicorn on {name} "
                    f"({spread(x['pool_checkouts'])} pool checkouts, {spread(x['transactions'])} transactions; "
                    f"{len(x['statements'])} bookings one after another, counted in the worker)"
                    for name, x in http.items()]
        lines.append("- SQL statements per booking: " + "; ".join(counted))
    return lines + [""]

