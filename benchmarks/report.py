"""The report: the machine's facts, BENCHMARKS.md (the `make bench` page, and the marked sections
`make load` and `make faults` own) and the raw JSON in benchmarks/results/."""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sqlite3
import subprocess
import sys
from pathlib import Path

from benchmarks.app import ROOT
from benchmarks.pgadmin import DEFAULT_BENCH_URL, server_version

PAGE = ROOT / "BENCHMARKS.md"
RESULTS = ROOT / "benchmarks" / "results"
PRESERVED_MARKERS = (("<!-- load:start -->", "<!-- load:end -->"), ("<!-- faults:start -->", "<!-- faults:end -->"))
OK = {True: "met", False: "**missed**"}


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine(pg_url: str) -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, timeout=10).stdout.strip() or None
    except OSError:
        commit = None
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gib": round(mem_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "postgresql": server_version(pg_url),
            "sqlite": sqlite3.sqlite_version, "os": platform.platform(),
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": commit, "load_average_at_start": load_average()}


def joined(values) -> str:
    return " / ".join(str(v) for v in values)


# -- the `make bench` page ----------------------------------------------------------------------------
def bench_markdown(r: dict, targets: list[str], sections: list[str], previous: str = "") -> str:
    """The whole page: machine, dataset, the targets table, each benchmark's section, the raw
    JSON, then the `make load` / `make faults` blocks of the previous page, verbatim."""
    m, d = r["machine"], r["dataset"]
    lines = [
        "# Benchmarks", "",
        "Written by `make bench` (`benchmarks/run.py`) from its last real run; the raw JSON is at the end.",
        "Re-run it to refresh: it drops and recreates the PostgreSQL database named by `BENCH_DATABASE_URL`",
        f"(default `{DEFAULT_BENCH_URL}`) and uses a temporary SQLite file.", "",
        "## Machine", "",
        f"- {m['nproc']} cores, {m['cpu']}, {m['ram_gib']} GiB RAM",
        f"- Python {m['python']}, PostgreSQL {m['postgresql']}, SQLite {m['sqlite']}, {m['os']}",
        f"- {m['date']}, commit {m['commit'] or 'unknown'}; load average at start "
        f"{joined(m['load_average_at_start'])} (a shared machine: other jobs may run)", "",
        "## Dataset: the standard clinic", "",
        f"Seed {d['seed']}, anchored on {d['anchor_date']} (26 weeks of history, 12 weeks ahead): "
        + ", ".join(f"{v} {k}" for k, v in d["counts"].items())
        + f". Loaded in {d['load_seconds_sqlite']} s (SQLite) and {d['load_seconds_postgresql']} s (PostgreSQL),"
        " migrations included.", "",
        "## Targets", "", "| target | measured | |", "|---|---|---|", *targets, ""]
    for section in sections:
        lines += section
    lines += ["## Raw output", "", "```json", json.dumps(r, indent=2, default=str), "```", ""]
    for block in preserved_blocks(previous):
        lines += [block, ""]
    return "\n".join(lines)


def write_bench_page(r: dict, targets: list[str], sections: list[list[str]]) -> None:
    previous = PAGE.read_text() if PAGE.exists() else ""
    PAGE.write_text(bench_markdown(r, targets, sections, previous))


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


def profile_lines(title: str, p: dict, analysis: str) -> list[str]:
    """A request profile (measure.request_profile) as a section."""
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


def part(p: dict, label: str) -> dict:
    """One part of a request profile; zeros when its function never ran."""
    return p["parts"].get(label, {"ms_per_request": 0.0, "share": 0.0, "calls_per_request": 0})


# -- the sections other commands own ---------------------------------------------------------------------
def write_section(name: str, body: str) -> None:
    """Replace what is between <!-- name:start --> and <!-- name:end --> in BENCHMARKS.md
    (appending the markers at the end when absent); nothing else is touched."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = PAGE.read_text() if PAGE.exists() else "# Benchmarks\n"
    block = f"{start}\n{body.strip()}\n{end}"
    if start in text and end in text and text.index(start) < text.index(end):
        text = text[:text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    PAGE.write_text(text)


def write_json(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path
