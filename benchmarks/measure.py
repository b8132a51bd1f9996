"""Measuring: the one set of statistics helpers, SQL statement counts (in-process, and per HTTP
request as the serving process counted them), and cProfile breakdowns."""
from __future__ import annotations

import contextlib
import cProfile
import math
import pstats
import statistics
import time
from pathlib import Path

from sqlalchemy import event


# -- statistics ------------------------------------------------------------------------------------
def ms(seconds: float | None, digits: int = 2) -> float | None:
    return None if seconds is None else round(seconds * 1000, digits)


def percentile(values, q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def median(values) -> float | None:
    return statistics.median(values) if values else None


def summary(times) -> dict:
    """Timings (seconds) as the benchmarks report them: runs, median, p95, min, max in ms."""
    return {"runs": len(times), "median_ms": ms(median(times)), "p95_ms": ms(percentile(times, 95)),
            "min_ms": ms(min(times)), "max_ms": ms(max(times))}


def latencies(times, digits: int = 1) -> dict:
    """p50 / p95 / p99 in ms, as the load reports them."""
    return {f"p{q}_ms": ms(percentile(times, q), digits) for q in (50, 95, 99)}


def spread(values) -> str:
    """"12" when all the values agree, "12-14" when they do not."""
    lo, hi = min(values), max(values)
    return str(lo) if lo == hi else f"{lo}-{hi}"


# -- SQL statements ----------------------------------------------------------------------------------
@contextlib.contextmanager
def count_statements(engine):
    """Statements the engine sends while inside (in-process: the caller's app, its threads)."""
    counter = {"n": 0}

    def count(*_args):
        counter["n"] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", count)


def server_counts(response) -> dict:
    """One response's counts, as the process that served it counted them (a gunicorn worker
    with BENCH_COUNT_STATEMENTS on: scheduler.metrics.count_per_request)."""
    from scheduler.metrics import PER_REQUEST_HEADERS

    names = {"before_cursor_execute": "statements", "checkout": "pool_checkouts", "begin": "transactions"}
    return {names[event_name]: int(response.headers[header]) for event_name, header in PER_REQUEST_HEADERS.items()}


def per_request(rows: list[dict]) -> dict:
    """server_counts of several requests, as one list per figure (request order)."""
    return {name: [row[name] for row in rows] for name in (rows[0] if rows else {})}


# -- profiling -------------------------------------------------------------------------------------------
class Profiled:
    """`runs` calls of `call` under cProfile: its stats and the loop's wall time."""

    def __init__(self, call, runs: int):
        profiler = cProfile.Profile()
        profiler.enable()
        t0 = time.perf_counter()
        for _ in range(runs):
            call()
        self.wall = time.perf_counter() - t0
        profiler.disable()
        self.runs = runs
        self.stats = pstats.Stats(profiler).stats  # (file, line, function): (cc, nc, tt, ct, callers)

    def parts(self, wanted: dict, whole: float, per: str) -> dict:
        """Cumulative time per run of the `wanted` {(file suffix, function): label}, as a share of
        `whole` seconds, in `wanted`'s order (labels whose function never ran are left out)."""
        found = {}
        for (filename, _line, name), (_cc, calls, _tt, cumulative, _c) in self.stats.items():
            label = next((text for (suffix, func), text in wanted.items()
                          if func == name and filename.endswith(suffix)), None)
            if label:
                found[label] = {f"ms_per_{per}": ms(cumulative / self.runs), "share": round(cumulative / whole, 3),
                                f"calls_per_{per}": round(calls / self.runs, 1)}
        order = list(wanted.values())
        return dict(sorted(found.items(), key=lambda kv: order.index(kv[0])))

    def cumulative(self, function: str) -> float:
        return max(ct for (_f, _l, name), (_cc, _nc, _tt, ct, _c) in self.stats.items() if name == function)

    def calls(self, suffix: str, function: str) -> int:
        return sum(nc for (f, _l, name), (_cc, nc, _tt, _ct, _c) in self.stats.items()
                   if name == function and f.endswith(suffix))

    def top_self_time(self, n: int = 10) -> list[dict]:
        top = sorted(self.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:n]
        return [{"function": f"{Path(f).name}:{line}({name})", "ms_per_request": ms(tt / self.runs)}
                for (f, line, name), (_cc, _nc, tt, _ct, _c) in top]


def request_profile(call, runs: int, wanted: dict) -> dict:
    """`call` makes one request through the Flask test client: the parts per request, as
    shares of the request's time under the profiler (Flask's wsgi_app), ORM objects loaded, and
    the functions with the most self time."""
    p = Profiled(call, runs)
    total = p.cumulative("wsgi_app")
    return {"runs": runs, "request_ms_under_profiler": ms(total / runs),
            "orm_rows_per_request": round(p.calls("orm/loading.py", "_instance") / runs),
            "parts": p.parts(wanted, total, "request"), "top_self_time": p.top_self_time()}


def call_profile(call, runs: int, wanted: dict) -> dict:
    """The parts per call of anything, as shares of the wall time under the profiler."""
    p = Profiled(call, runs)
    return {"runs": runs, "ms_per_call_under_profiler": ms(p.wall / runs), "parts": p.parts(wanted, p.wall, "call")}
