"""The benchmarks' one set of statistics helpers (benchmarks/measure.py), against independent
oracles, and how the load's client threads tell an error from a refusal."""
import math
import statistics

from hypothesis import given, strategies as st

from benchmarks.clients import Recorder, is_error
from benchmarks.measure import latencies, median, ms, per_request, percentile, spread, summary

values = st.lists(st.floats(min_value=0, max_value=10, allow_nan=False), min_size=1, max_size=200)
quantiles = st.floats(min_value=0.01, max_value=100)


@given(values, quantiles)
def test_percentile_is_the_nearest_rank(xs, q):
    # Nearest rank: the smallest value with at least q % of the values at or below it.
    p = percentile(xs, q)
    assert p in xs
    assert sum(x <= p for x in xs) >= q / 100 * len(xs) - 1e-9
    assert all(sum(y <= x for y in xs) < q / 100 * len(xs) - 1e-9 for x in xs if x < p)


def test_percentile_of_known_lists():
    hundred = list(range(1, 101))
    assert [percentile(hundred, q) for q in (50, 95, 99, 100)] == [50, 95, 99, 100]
    assert percentile([3.0, 1.0, 2.0], 95) == 3.0
    assert percentile([5.0], 1) == 5.0
    assert percentile([], 95) is None


@given(values)
def test_median_is_the_middle(xs):
    ordered = sorted(xs)
    n = len(ordered)
    middle = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
    assert math.isclose(median(xs), middle)


def test_median_of_nothing_is_none():
    assert median([]) is None


def test_ms_rounds_seconds_to_milliseconds():
    assert ms(0.0123456) == 12.35
    assert ms(0.0123456, 1) == 12.3
    assert ms(None) is None


def test_summary_of_timings():
    times = [0.010, 0.030, 0.020, 0.040]
    assert summary(times) == {"runs": 4, "median_ms": 25.0, "p95_ms": 40.0, "min_ms": 10.0, "max_ms": 40.0}


@given(values)
def test_summary_agrees_with_the_parts(xs):
    s = summary(xs)
    assert s["runs"] == len(xs)
    assert s["min_ms"] <= s["median_ms"] <= s["max_ms"] and s["p95_ms"] <= s["max_ms"]
    assert s["median_ms"] == round(statistics.median(xs) * 1000, 2)


def test_latencies_as_the_load_reports_them():
    assert latencies([i / 1000 for i in range(1, 101)]) == {"p50_ms": 50.0, "p95_ms": 95.0, "p99_ms": 99.0}
    assert latencies([]) == {"p50_ms": None, "p95_ms": None, "p99_ms": None}


def test_spread_and_per_request():
    assert spread([12, 12, 12]) == "12"
    assert spread([13, 11, 12]) == "11-13"
    rows = [{"statements": 11, "pool_checkouts": 2}, {"statements": 12, "pool_checkouts": 2}]
    assert per_request(rows) == {"statements": [11, 12], "pool_checkouts": [2, 2]}
    assert per_request([]) == {}


def test_errors_are_anything_but_success_and_a_bookings_refusal():
    assert not is_error("booking", "201") and not is_error("slot_search", "200")
    assert not is_error("booking", "409 room_unavailable")
    assert is_error("slot_search", "409 conflict")  # only a booking may be refused
    assert is_error("booking", "503 unavailable") and is_error("day_sheet", "exception ConnectTimeout")


def test_recorder_figures_per_endpoint_and_errors_in_a_window():
    rec = Recorder()
    for i, (endpoint, key) in enumerate([("booking", "201"), ("booking", "409 room_unavailable"),
                                         ("booking", "503 unavailable"), ("slot_search", "200")]):
        rec.add(endpoint, key, (i + 1) / 100, at=float(i))
    figures = rec.by_endpoint()
    assert figures["booking"]["requests"] == 3
    assert figures["booking"]["statuses"] == {"201": 1, "409 room_unavailable": 1, "503 unavailable": 1}
    assert figures["booking"]["p50_ms"] == 20.0 and figures["booking"]["max_ms"] == 30.0
    assert set(rec.by_endpoint(since=3.0)) == {"slot_search"}
    assert dict(rec.errors()) == {"503 unavailable": 1}
    assert dict(rec.errors(hi=1.0)) == {}
