"""Calendar benchmarks (issue 5), run by `make bench` after the scheduling parts; standalone:

    python -m benchmarks.calendar_bench     # loads the standard clinic itself

(a) feed render (benchmarks/calendar_feed.py): a provider feed with 2,000 events, cold, warm
    and 304, on SQLite and PostgreSQL;
(b) busy time in (benchmarks/calendar_busy.py): a real Radicale calendar with 500 events synced
    into busy blocks, cold, full re-sync and unchanged.

Standalone, it drops and recreates BENCH_DATABASE_URL (as `make bench` does) and prints JSON
and the section's markdown.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile

from benchmarks import calendar_busy, calendar_feed
from benchmarks.calendar_feed import FEED_TARGET_MEDIAN_MS, FEED_TARGET_P95_MS
from benchmarks.generate import SEED, TZ, UTC, generate
from benchmarks.pgadmin import database_url, drop_pg
from benchmarks.report import OK, joined, load_average

VERDICT = "feed_2000_cold_median_under_500ms_and_p95_under_1s"


def run(sqlite_url: str, pg_url: str, now: dt.datetime) -> dict:
    """Both parts on databases that hold the standard clinic (benchmarks.generate)."""
    urls = {"sqlite": sqlite_url, "postgresql": pg_url}
    out = {"load_average_at_start": load_average(),
           "feed": {name: calendar_feed.bench_feed(url, now) for name, url in urls.items()}}
    out["sync"] = calendar_busy.bench_radicale(urls, now)
    out["load_average_at_end"] = load_average()
    out["verdicts"] = verdicts(out)
    return out


def verdicts(c: dict) -> dict:
    return {VERDICT: all(f["cold"]["median_ms"] < FEED_TARGET_MEDIAN_MS and f["cold"]["p95_ms"] < FEED_TARGET_P95_MS
                         for f in c["feed"].values())}


def measured(c: dict) -> str:
    return ", ".join(f"{x['cold']['median_ms']} / {x['cold']['p95_ms']} ms ({n})" for n, x in c["feed"].items())


def target_rows(r: dict) -> list[str]:
    """The row in the page's targets table."""
    if "calendar" not in r:
        return []
    return [f"| provider feed, 2,000 events, \"well under a second\": cold render median < "
            f"{FEED_TARGET_MEDIAN_MS} ms, p95 < {FEED_TARGET_P95_MS} ms (see Calendar) | {measured(r['calendar'])} | "
            f"{OK[r['calendar']['verdicts'][VERDICT]]} |"]


def markdown_lines(c: dict) -> list[str]:
    lines = ["## Calendar", "",
             f"Load average {joined(c['load_average_at_start'])} at the start of this part, "
             f"{joined(c['load_average_at_end'])} at its end.", "",
             "### Targets", "", "| target | measured | |", "|---|---|---|",
             "| provider feed with 2,000 events renders \"well under a second\" (read as: cold render median "
             f"< {FEED_TARGET_MEDIAN_MS} ms and p95 < {FEED_TARGET_P95_MS} ms, both databases) | {measured(c)} | "
             f"{OK[c['verdicts'][VERDICT]]} |", ""]
    return lines + calendar_feed.markdown_lines(c["feed"]) + [""] + calendar_busy.markdown_lines(c["sync"])


def main(argv=None) -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    pg_url = database_url("BENCH_DATABASE_URL", "scheduler_bench")
    today = dt.datetime.now(TZ).date()
    now = dt.datetime.now(UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        sqlite_url = f"sqlite:///{tmp}/bench.sqlite3"
        drop_pg(pg_url, create=True)
        try:
            for url in (sqlite_url, pg_url):
                generate(url, today, SEED, progress=False)
            result = run(sqlite_url, pg_url, now)
        finally:
            drop_pg(pg_url)
    print(json.dumps(result, indent=2, default=str))
    print("\n".join(markdown_lines(result)))


if __name__ == "__main__":
    main()
