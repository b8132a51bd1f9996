"""Measuring helpers shared by the benchmarks: percentiles, the app under test, statement counts."""
from __future__ import annotations

import contextlib
import datetime as dt
import math

from sqlalchemy import event

SECRET_KEY = "benchmark-secret-key-0123456789"


def p95(values):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def make_app(url: str, now: dt.datetime | None = None, **settings):
    from scheduler import create_app
    from scheduler.clock import FixedClock

    config = {"DATABASE_URL": url, "SECRET_KEY": SECRET_KEY, "SCHEDULER_EMBEDDED": False, "TESTING": True,
              **settings}
    if now is not None:
        config["CLOCK"] = FixedClock(now)
    return create_app(config)


@contextlib.contextmanager
def count_statements(engine):
    counter = {"n": 0}

    def count(*_args):
        counter["n"] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", count)
