"""`make load`: the mixed front-desk load against the production layout, measured.

PostgreSQL database LOAD_DATABASE_URL (default scheduler_load on 127.0.0.1, dropped and
created here, dropped again at the end), the standard clinic (benchmarks/generate.py),
gunicorn -w 2 (benchmarks/processes.py) and ONE `flask --app wsgi worker` sending
to a recording fake Twilio in this process. Then LOAD_CLIENTS (8) client threads for
LOAD_SECONDS (60): slot searches 70 %, bookings 20 %, day sheets 10 %.

Reports per-endpoint throughput, p50/p95/p99, errors (anything but 200/201 and a booking's
409), and checks that the appointments created during the run are exactly the 201s.
Writes benchmarks/results/load.json and the <!-- load:... --> section of BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import threading
import time

from sqlalchemy import text

from benchmarks.clients import Recorder, is_error, mixed_clients
from benchmarks.clinic import booking_queue, fresh_clinic, setup_app
from benchmarks.fakes import ScriptedTwilio
from benchmarks.generate import SEED, TZ
from benchmarks.measure import latencies
from benchmarks.pgadmin import database_url, drop_pg
from benchmarks.processes import (
    Gunicorn, Worker, busy_share, cpu_seconds, machine_busy, service_environ, temporary_log, wait_until, worker_env,
)
from benchmarks.report import load_average, machine, write_json, write_section

SECONDS = float(os.environ.get("LOAD_SECONDS", "60"))
CLIENTS = int(os.environ.get("LOAD_CLIENTS", "8"))
ENDPOINTS = ("slot_search", "booking", "day_sheet")


def summarise(rec: Recorder, wall: float) -> dict:
    figures = rec.by_endpoint()
    out = {}
    for endpoint in ENDPOINTS:
        x = figures.get(endpoint, {"requests": 0, "statuses": {}, **latencies([]), "max_ms": None})
        out[endpoint] = {"requests": x["requests"], "per_second": round(x["requests"] / wall, 2),
                         **{k: x[k] for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms", "statuses")},
                         "errors": sum(n for k, n in x["statuses"].items() if is_error(endpoint, k))}
    out["all"] = {"requests": len(rec.rows), "per_second": round(len(rec.rows) / wall, 2),
                  **latencies([r[2] for r in rec.rows]), "errors": sum(out[e]["errors"] for e in ENDPOINTS)}
    return out


def database_checks(app, before: int, last_id: int, booked: list[int], failed_bodies: list) -> dict:
    from scheduler.extensions import db

    with app.app_context():
        after = db.session.scalar(text("SELECT count(*) FROM appointments"))
        found = set()
        for i in range(0, len(booked), 1000):
            found |= set(db.session.scalars(text("SELECT id FROM appointments WHERE id = ANY(:ids)"),
                                            {"ids": booked[i:i + 1000]}))
        # A booking answered with an error must not exist (it would be a silent success).
        phantom = 0
        for body, _key in failed_bodies:
            phantom += db.session.scalar(text(
                "SELECT count(*) FROM appointments WHERE patient_id = :p AND start_at = :s "
                "AND status = 'booked'"), {"p": body["patient_id"], "s": dt.datetime.fromisoformat(body["start"])})
        texts = dict(db.session.execute(text(
            "SELECT status, count(*) FROM messages WHERE appointment_id > :last GROUP BY status"),
            {"last": last_id}).all())
        db.session.remove()
    return {"appointments_before": before, "appointments_after": after, "created": after - before,
            "answered_201": len(booked), "distinct_201_ids": len(set(booked)),
            "201_ids_found": len(found), "errored_bookings_found_in_db": phantom,
            "texts_for_new_bookings_by_status": texts}


def main(argv=None) -> None:
    from scheduler.extensions import db

    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    url = database_url("LOAD_DATABASE_URL", "scheduler_load")
    today = dt.datetime.now(TZ).date()
    report = {"machine": machine(url), "config": {
        "clients": CLIENTS, "seconds": SECONDS, "gunicorn_workers": 2, "worker_processes": 1,
        "mix": {"slot_search": 0.7, "booking": 0.2, "day_sheet": 0.1}, "seed": SEED,
        "anchor_date": today.isoformat(), "rate_limit_enabled": False}}
    log_path = temporary_log("gunicorn-load-")
    worker = None
    try:
        t0 = time.perf_counter()
        report["dataset"] = fresh_clinic(url, today)
        report["dataset"]["load_seconds"] = round(time.perf_counter() - t0, 1)
        app, headers, patients = setup_app(url)
        service_environ()
        with ScriptedTwilio() as fake, Gunicorn(url, log_path) as server:
            worker = Worker(worker_env(url, fake.base_url, server.base), "load-worker").start()
            work = booking_queue(server.base, headers, today, patients)
            report["config"]["planned_distinct_slots"] = work.qsize()
            beat = wait_until(lambda: _heartbeat(app), 30)
            if not beat or not worker.alive():
                raise RuntimeError(f"the worker did not beat within 30 s\n{worker.output()}")
            with app.app_context():
                before = db.session.scalar(text("SELECT count(*) FROM appointments"))
                last_id = db.session.scalar(text("SELECT max(id) FROM appointments"))
                db.session.remove()
            gunicorn_workers = server.workers()
            pids = gunicorn_workers + [worker.proc.pid]
            cpu0, busy0, own0 = cpu_seconds(gunicorn_workers), machine_busy(), time.process_time()
            wcpu0 = cpu_seconds([worker.proc.pid])
            rec, stop = Recorder(), threading.Event()
            print(f"load: {CLIENTS} clients for {SECONDS:g} s against {server.base} "
                  f"(load average {os.getloadavg()[0]:.2f})", file=sys.stderr)
            start = time.perf_counter()
            threads = mixed_clients(server.base, headers, work, today, rec, CLIENTS, stop, SECONDS)
            for t in threads:
                t.join(SECONDS + 35)
            stop.set()
            wall = time.perf_counter() - start
            cpu = cpu_seconds(gunicorn_workers) - cpu0
            wcpu = cpu_seconds([worker.proc.pid]) - wcpu0
            busy, own = machine_busy(), time.process_time() - own0
            report["machine"]["load_average_at_end"] = load_average()
            report["wall_seconds"] = round(wall, 2)
            report["endpoints"] = summarise(rec, wall)
            report["cpu"] = {
                "gunicorn_workers_seconds": round(cpu, 1), "worker_process_seconds": round(wcpu, 1),
                "load_clients_seconds": round(own, 1),
                "machine_busy": busy_share(busy0, busy)}
            report["worker"] = {"alive_at_end": worker.alive(), "pids": pids,
                                "fake_twilio_requests": len(fake.requests),
                                "fake_twilio_accepted": len(fake.messages)}
            report["database"] = database_checks(app, before, last_id, rec.booked, rec.failed_bookings)
            report["failed_booking_samples"] = [k for _b, k in rec.failed_bookings[:10]]
            worker.stop()
            report["worker"]["log_tracebacks"] = worker.output(200_000).count("Traceback")
        d, e = report["database"], report["endpoints"]
        report["verdicts"] = {
            "zero_errors_apart_from_409": e["all"]["errors"] == 0,
            "created_equals_201s": d["created"] == d["answered_201"] == d["distinct_201_ids"],
            "every_201_id_exists": d["201_ids_found"] == d["answered_201"],
            "no_errored_booking_in_db": d["errored_bookings_found_in_db"] == 0,
            "worker_alive_throughout": report["worker"]["alive_at_end"]}
    finally:
        if worker is not None:
            worker.cleanup()
        log_tail = log_path.read_text(errors="replace")[-3000:] if log_path.exists() else ""
        log_path.unlink(missing_ok=True)
        try:
            drop_pg(url)
        except Exception as exc:  # report, but never hide the real failure
            print(f"load: could not drop {url}: {exc}", file=sys.stderr)
    report["gunicorn_log_tail"] = log_tail[-1500:] if log_tail.strip() else ""
    print(json.dumps(report, indent=2, default=str))
    write_json("load", report)
    write_section("load", markdown(report))
    if not all(report["verdicts"].values()):
        raise SystemExit(f"load: checks failed: {[k for k, v in report['verdicts'].items() if not v]}")


def _heartbeat(app) -> bool:
    from scheduler.extensions import db

    with app.app_context():
        n = db.session.scalar(text("SELECT count(*) FROM heartbeats"))
        db.session.remove()
    return bool(n)


def markdown(r: dict) -> str:
    m, c, e, d, cpu, v = r["machine"], r["config"], r["endpoints"], r["database"], r["cpu"], r["verdicts"]
    ok = {True: "yes", False: "**NO**"}
    lines = [
        "## Mixed load (`make load`)", "",
        "Written by `make load` (`benchmarks/load.py`) from its last real run; the raw figures are in "
        "`benchmarks/results/load.json`.", "",
        f"- Machine: {m['nproc']} cores, {m['cpu']}, {m['ram_gib']} GiB RAM; Python {m['python']}, "
        f"PostgreSQL {m['postgresql']}; {m['date']}, commit {m['commit'] or 'unknown'}",
        f"- Load average at start {' / '.join(map(str, m['load_average_at_start']))}, at end "
        f"{' / '.join(map(str, m['load_average_at_end']))} (a shared machine: other test runs were going "
        f"on; the cores were {cpu['machine_busy']:.0%} busy during the run, everything included)",
        f"- Layout: gunicorn -w {c['gunicorn_workers']} (sync workers) + {c['worker_processes']} "
        "`flask --app wsgi worker` (sending the bookings' texts to a fake Twilio), PostgreSQL on the same "
        f"machine, the standard clinic (seed {c['seed']}, anchored {c['anchor_date']}: "
        f"{r['dataset']['appointments']} appointments, {r['dataset']['patients']} patients); rate limiting off",
        f"- Load: {c['clients']} client threads (threads + requests, same machine) for {c['seconds']:g} s "
        f"({r['wall_seconds']} s wall), each picking its next request at random: slot searches 70 % "
        "(one location, `ketamine_iv` / `ketamine_im` / `integration` 6:2:2, 7 days in the next 8 weeks), "
        f"bookings 20 % (each one of {c['planned_distinct_slots']} distinct free slots picked from `/slots` "
        "beforehand, provider and room named), day sheets 10 % (one location, a day within 4 weeks of "
        "today)", "",
        "| endpoint | requests | per second | p50 | p95 | p99 | max | responses | errors |",
        "|---|---|---|---|---|---|---|---|---|"]
    for name in (*ENDPOINTS, "all"):
        x = e[name]
        lines.append(f"| {name} | {x['requests']} | {x['per_second']} | {x['p50_ms']} ms | {x['p95_ms']} ms | "
                     f"{x['p99_ms']} ms | {x.get('max_ms', '')}{' ms' if x.get('max_ms') else ''} | "
                     f"{x.get('statuses', '')} | {x['errors']} |")
    lines += [
        "",
        f"- Appointments: {d['appointments_before']} before, {d['appointments_after']} after: "
        f"**{d['created']} created, {d['answered_201']} answered 201** ({d['201_ids_found']} of the 201s' ids "
        f"found); errored bookings found in the database: {d['errored_bookings_found_in_db']}",
        f"- Texts planned by the new bookings, by status at the end: {d['texts_for_new_bookings_by_status']}; "
        f"the fake Twilio accepted {r['worker']['fake_twilio_accepted']} "
        f"(the worker sends at most 50 per 15-s run)",
        f"- CPU during the run: gunicorn workers {cpu['gunicorn_workers_seconds']} s, worker process "
        f"{cpu['worker_process_seconds']} s, load clients {cpu['load_clients_seconds']} s "
        f"(of {round(2 * r['wall_seconds'], 1)} core-seconds)", "",
        "| check | |", "|---|---|",
        *[f"| {k.replace('_', ' ')} | {ok[val]} |" for k, val in v.items()]]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
