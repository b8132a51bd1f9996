"""`make bench`: the standard clinic on SQLite and PostgreSQL, measured; prints JSON and
writes BENCHMARKS.md. This module only runs the parts in order; each lives in its own module:

(a) slot search (benchmarks/slot_search.py), through the Flask test client: median and p95
    over 50 runs, SQL statements per search for 7, 14 and 28 days;
(b) booking throughput (benchmarks/booking_throughput.py) through real HTTP (gunicorn, 2
    workers, PostgreSQL), 8 client threads booking distinct slots picked from /slots first;
(c) contention (benchmarks/contention.py): 50 concurrent requests for one slot, exactly one
    may succeed; then no double booking anywhere;
    where a booking's time goes (benchmarks/booking_profile.py), when (b) misses its target;
    SQL statements, pool checkouts and transactions per real HTTP request, for (a) and (b),
    counted in the gunicorn worker (BENCH_COUNT_STATEMENTS), on both databases;
(d) calendar (benchmarks/calendar_bench.py): a provider feed with 2,000 events (cold, warm,
    304) and a sync of a Radicale calendar with 500 events into busy blocks.

BENCHMARKS.md is rewritten wholesale (benchmarks/report.py), except the blocks between
`<!-- load:start -->` and `<!-- load:end -->` and between `<!-- faults:start -->` and
`<!-- faults:end -->` (written by `make load` and `make faults`): they are carried over
verbatim to the end of the new file.

BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/scheduler_bench) names a
database this script drops and creates; BENCH_BOOKING_SECONDS bounds part (b).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time

from benchmarks import booking_profile, booking_throughput, calendar_bench, contention, slot_search
from benchmarks.app import api_key, dispose, make_app
from benchmarks.clinic import ZONE_WEEKS, plan_bookings, setup_app, zone_start
from benchmarks.generate import SEED, TZ, generate
from benchmarks.pgadmin import database_url, drop_pg
from benchmarks.processes import Gunicorn, temporary_log
from benchmarks.report import machine, write_bench_page


def main(argv=None) -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    pg_url = database_url("BENCH_DATABASE_URL", "scheduler_bench")
    today = dt.datetime.now(TZ).date()
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    report = {"machine": machine(pg_url), "dataset": {"seed": SEED, "anchor_date": today.isoformat()}}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        urls = {"sqlite": f"sqlite:///{tmp}/bench.sqlite3", "postgresql": pg_url}
        drop_pg(pg_url, create=True)
        try:
            for name, url in urls.items():
                t0 = time.perf_counter()
                report["dataset"]["counts"] = generate(url, today, SEED)
                report["dataset"][f"load_seconds_{name}"] = round(time.perf_counter() - t0, 1)
            searches = {name: slot_search.bench(url, today, now) for name, url in urls.items()}
            report["slot_search"] = {name: result for name, (result, _profile) in searches.items()}
            report.update(http_part(urls, today))
            report["verdicts"] = {**slot_search.verdicts(report), **booking_throughput.verdicts(report),
                                  **contention.verdicts(report)}
            if not all(report["verdicts"][k] for k in ("search_median_under_30ms_sqlite",
                                                       "search_p95_under_60ms_sqlite")):
                report["search_profile_sqlite"] = searches["sqlite"][1]()
            # After the scheduling parts: it adds a provider, rooms, patients and busy blocks.
            report["calendar"] = calendar_bench.run(urls["sqlite"], pg_url, now)
            report["verdicts"].update(report["calendar"]["verdicts"])
        finally:
            drop_pg(pg_url)
    print(json.dumps(report, indent=2, default=str))
    write_bench_page(report, targets(report), sections(report))


def http_part(urls: dict, today: dt.date) -> dict:
    """(b) and (c) through one gunicorn on PostgreSQL, the booking profile when (b) misses its
    target, the per-request counts, and the double-booking check over all of it."""
    pg_url = urls["postgresql"]
    app, headers, patients = setup_app(pg_url, "bench http")
    dispose(app)
    # Past the generated 12 weeks: the days booked here hold nothing else yet.
    first_day = zone_start(today)
    contention_day = first_day + dt.timedelta(weeks=ZONE_WEEKS + 1)
    log_path = temporary_log("gunicorn-")
    try:
        with Gunicorn(pg_url, log_path) as server:
            plan = plan_bookings(server.base, headers, first_day, patients)
            left, throughput = booking_throughput.bench(server, headers, plan)
            contended = contention.bench(server.base, headers, contention_day, patients)
    finally:
        log_path.unlink(missing_ok=True)
    out = {"booking_throughput": throughput, "contention": contended}
    if throughput["bookings_per_second"] < booking_throughput.TARGET_PER_SECOND and len(left) >= 12:
        out["booking_profile_postgresql"] = booking_profile.profile(pg_url, left[:booking_profile.PROFILED_BOOKINGS])
    # The last slots nobody took (the profile takes the first ones), booked again on each database.
    enough = len(left) >= booking_profile.PROFILED_BOOKINGS + booking_throughput.HTTP_RUNS
    out["per_http_request"] = per_http_request(urls, today, left[-booking_throughput.HTTP_RUNS:] if enough else [])
    out["integrity"] = contention.integrity(pg_url, contended["slot"])
    return out


def per_http_request(urls: dict, today: dt.date, bodies: list[dict]) -> dict:
    """Slot searches and bookings through a gunicorn that counts each request's SQL in the
    worker (a server of its own: the throughput above is measured without the counter)."""
    out = {}
    for name, url in urls.items():
        app = make_app(url)
        headers = {"Authorization": f"Bearer {api_key(app, 'bench per request')}"}
        dispose(app)
        log_path = temporary_log("gunicorn-count-")
        try:
            with Gunicorn(url, log_path, count_statements=True) as server:
                out[name] = {"slot_search": slot_search.counts_over_http(server.base, headers, today),
                             "booking": booking_throughput.counts_over_http(server.base, headers, bodies)
                             if bodies else None}
        finally:
            log_path.unlink(missing_ok=True)
    return out


def targets(r: dict) -> list[str]:
    return [*slot_search.target_rows(r), *booking_throughput.target_rows(r), *contention.target_rows(r),
            *calendar_bench.target_rows(r)]


def sections(r: dict) -> list[list[str]]:
    found = [slot_search.markdown_lines(r), booking_throughput.markdown_lines(r), contention.markdown_lines(r)]
    if "search_profile_sqlite" in r:
        found.append(slot_search.profile_section(r))
    if "booking_profile_postgresql" in r:
        found.append(booking_profile.markdown_lines(r))
    if "calendar" in r:
        found.append(calendar_bench.markdown_lines(r["calendar"]))
    return found


if __name__ == "__main__":
    main()
