from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.domain.intervals import (
    Interval,
    StepFunction,
    clip,
    covers,
    intersect,
    merge,
    overlaps_any,
    subtract,
    union,
)

UTC = timezone.utc
LA = ZoneInfo("America/Los_Angeles")
BASE = datetime(2027, 1, 4, 8, 0, tzinfo=UTC)
PROPERTY = settings(max_examples=150, deadline=None)


def at(minute: int) -> datetime:
    return BASE + timedelta(minutes=minute)


def iv(a: int, b: int) -> Interval:
    return Interval(at(a), at(b))


def minute_of(t: datetime) -> int:
    return int((t - BASE) / timedelta(minutes=1))


def points(intervals) -> set[int]:
    """Minutes k whose cell [k, k+1) is covered: exact for whole-minute endpoints."""
    return {k for x in intervals for k in range(minute_of(x.start), minute_of(x.end))}


def assert_normalised(xs: list[Interval]) -> None:
    assert all(a.end < b.start for a, b in zip(xs, xs[1:])), xs


# --- Interval -------------------------------------------------------------------------

def test_interval_rejects_empty_and_reversed_bounds():
    with pytest.raises(ValueError):
        iv(10, 10)
    with pytest.raises(ValueError):
        iv(10, 5)


def test_interval_rejects_naive_datetimes():
    with pytest.raises(ValueError):
        Interval(datetime(2027, 1, 1, 8), datetime(2027, 1, 1, 9))
    with pytest.raises(ValueError):
        iv(0, 10).contains_instant(datetime(2027, 1, 4, 8, 5))


def test_interval_stores_bounds_in_utc_so_shift_is_real_time():
    # 2027-03-13 12:00 PST + 24 h of real time is 13:00 PDT, not 12:00.
    local = Interval(datetime(2027, 3, 13, 12, tzinfo=LA), datetime(2027, 3, 13, 13, tzinfo=LA))
    assert local.start.tzinfo is UTC
    assert local.start == datetime(2027, 3, 13, 20, tzinfo=UTC)
    moved = local.shift(timedelta(hours=24))
    assert moved.start.astimezone(LA).hour == 13


def test_interval_duration_and_ordering():
    assert iv(0, 45).duration == timedelta(minutes=45)
    assert sorted([iv(5, 9), iv(0, 9), iv(0, 3)]) == [iv(0, 3), iv(0, 9), iv(5, 9)]
    assert len({iv(0, 5), iv(0, 5)}) == 1


def test_touching_intervals_do_not_overlap():
    assert not iv(0, 10).overlaps(iv(10, 20))
    assert not iv(10, 20).overlaps(iv(0, 10))
    assert iv(0, 11).overlaps(iv(10, 20))
    assert iv(0, 30).overlaps(iv(10, 20))


def test_contains_includes_equal_bounds_but_not_overhang():
    assert iv(0, 10).contains(iv(0, 10))
    assert iv(0, 10).contains(iv(3, 7))
    assert not iv(0, 10).contains(iv(5, 11))


def test_contains_instant_is_half_open():
    assert iv(0, 10).contains_instant(at(0))
    assert iv(0, 10).contains_instant(at(9))
    assert not iv(0, 10).contains_instant(at(10))


def test_intersection_is_none_when_touching():
    assert iv(0, 10).intersection(iv(5, 20)) == iv(5, 10)
    assert iv(0, 10).intersection(iv(10, 20)) is None


def test_shift_and_expand():
    assert iv(0, 10).shift(timedelta(minutes=5)) == iv(5, 15)
    assert iv(10, 20).expand(timedelta(minutes=5), timedelta(minutes=15)) == iv(5, 35)
    assert iv(10, 20).expand(timedelta(0), -timedelta(minutes=5)) == iv(10, 15)
    with pytest.raises(ValueError):
        iv(10, 20).expand(timedelta(0), -timedelta(minutes=10))


# --- list operations -------------------------------------------------------------------

def test_merge_joins_overlapping_and_touching_but_keeps_gaps():
    assert merge([iv(20, 30), iv(0, 10), iv(10, 15), iv(25, 40), iv(41, 42)]) == [
        iv(0, 15), iv(20, 40), iv(41, 42)]
    assert merge([]) == []
    assert merge([iv(0, 100), iv(10, 20)]) == [iv(0, 100)]


def test_union_accepts_any_iterables():
    assert union((x for x in [iv(0, 5)]), [iv(5, 8), iv(20, 30)]) == [iv(0, 8), iv(20, 30)]


def test_intersect_keeps_only_common_parts():
    a = [iv(0, 10), iv(20, 30)]
    b = [iv(5, 25), iv(28, 40)]
    assert intersect(a, b) == [iv(5, 10), iv(20, 25), iv(28, 30)]
    assert intersect(a, []) == []


def test_subtract_splits_interval_around_hole():
    assert subtract([iv(0, 60)], [iv(20, 30)]) == [iv(0, 20), iv(30, 60)]


def test_subtract_hole_spanning_several_intervals():
    assert subtract([iv(0, 10), iv(20, 30), iv(40, 50)], [iv(5, 45)]) == [iv(0, 5), iv(45, 50)]


def test_subtract_touching_hole_removes_nothing():
    assert subtract([iv(10, 20)], [iv(0, 10), iv(20, 30)]) == [iv(10, 20)]
    assert subtract([iv(10, 20)], [iv(0, 30)]) == []


def test_working_hours_minus_busy_time():
    hours = [iv(0, 540)]  # 08:00-17:00
    busy = [iv(60, 120), iv(100, 180), iv(500, 600)]
    assert subtract(hours, busy) == [iv(0, 60), iv(180, 500)]


def test_covers_needs_one_single_member():
    free = merge([iv(0, 10), iv(20, 30)])
    assert covers(free, iv(0, 10))
    assert covers(free, iv(22, 25))
    assert not covers(free, iv(5, 25))  # spans a gap
    assert not covers(free, iv(8, 12))
    assert not covers(free, iv(10, 20))
    assert not covers([], iv(0, 1))


def test_overlaps_any_ignores_touching_members():
    busy = merge([iv(0, 10), iv(20, 30)])
    assert not overlaps_any(busy, iv(10, 20))
    assert overlaps_any(busy, iv(9, 20))
    assert overlaps_any(busy, iv(10, 21))
    assert overlaps_any(busy, iv(-5, 100))
    assert not overlaps_any(busy, iv(30, 40))
    assert not overlaps_any([], iv(0, 1))


def test_clip_cuts_to_window_and_keeps_multiplicity():
    window = iv(10, 20)
    assert clip([iv(0, 15), iv(12, 30), iv(0, 5), iv(20, 25)], window) == [iv(10, 15), iv(12, 20)]


# --- StepFunction ----------------------------------------------------------------------

def test_count_counts_overlapping_intervals():
    f = StepFunction.count([iv(0, 10), iv(5, 15), iv(5, 8)])
    assert [f.value_at(at(m)) for m in (-1, 0, 5, 8, 10, 15)] == [0, 1, 3, 2, 1, 0]
    assert f.breakpoints() == [(at(0), 1), (at(5), 3), (at(8), 2), (at(10), 1), (at(15), 0)]


def test_count_collapses_touching_intervals():
    f = StepFunction.count([iv(0, 10), iv(10, 20)])
    assert f.breakpoints() == [(at(0), 1), (at(20), 0)]
    assert f == StepFunction.count([iv(0, 20)])


def test_constant_has_no_breakpoints():
    f = StepFunction.constant(3)
    assert f.breakpoints() == []
    assert f.value_at(at(-10_000)) == 3
    assert f.min_over(iv(0, 10)) == f.max_over(iv(0, 10)) == 3


def test_min_and_max_over_are_half_open():
    f = StepFunction.count([iv(10, 20)])
    assert f.min_over(iv(0, 10)) == 0 and f.max_over(iv(0, 10)) == 0
    assert f.max_over(iv(0, 11)) == 1
    assert f.min_over(iv(10, 20)) == 1
    assert f.min_over(iv(10, 21)) == 0
    assert f.max_over(iv(20, 30)) == 0


def test_arithmetic_and_canonical_breakpoints():
    a = StepFunction.count([iv(0, 10)])
    b = StepFunction.count([iv(0, 10)])
    assert (a - b).breakpoints() == []
    assert a - b == StepFunction.constant(0)
    assert (a + 2).value_at(at(5)) == 3 and (2 + a).value_at(at(20)) == 2
    assert (5 - a).value_at(at(5)) == 4
    assert (-a).value_at(at(5)) == -1
    assert a.scale(3) == 3 * a == a * 3
    assert a.scale(0) == StepFunction.constant(0)
    assert sum([a, b, a]).value_at(at(1)) == 3


def test_step_function_is_immutable_and_validates_breakpoints():
    f = StepFunction.constant(1)
    with pytest.raises(AttributeError):
        f._default = 2
    with pytest.raises(ValueError):
        StepFunction(0, [(at(5), 1), (at(5), 2)])
    with pytest.raises(ValueError):
        StepFunction(0, [(datetime(2027, 1, 1), 1)])
    with pytest.raises(ValueError):
        f.value_at(datetime(2027, 1, 1))


def test_explicit_breakpoints_drop_unchanged_values():
    f = StepFunction(1, [(at(0), 1), (at(5), 2), (at(7), 2), (at(9), 1)])
    assert f.breakpoints() == [(at(5), 2), (at(9), 1)]
    assert f.default == 1


def test_segments_and_at_least():
    f = StepFunction.count([iv(0, 10), iv(5, 15)])
    assert list(f.segments(iv(-5, 12))) == [
        (iv(-5, 0), 0), (iv(0, 5), 1), (iv(5, 10), 2), (iv(10, 12), 1)]
    assert f.at_least(1, iv(-5, 30)) == [iv(0, 15)]
    assert f.at_least(2, iv(-5, 30)) == [iv(5, 10)]


def test_slack_refuses_dosing_while_only_watcher_administers():
    # Example 2: one prescriber 08:00-17:00, ratio 1; patient A dosed at 09:00 (prescriber
    # administering 09:00-09:40, A monitored 09:40-10:40).
    ratio, administer, chair = 1, 40, 100
    watchers = StepFunction.count([iv(0, 540)]) - StepFunction.count([iv(60, 100)])
    monitored = StepFunction.count([iv(100, 160)])
    slack = ratio * watchers - monitored

    def allowed(s: int) -> bool:
        # Administering takes a whole watcher (ratio places); monitoring takes one place.
        return (slack.min_over(iv(s, s + administer)) >= ratio
                and slack.min_over(iv(s + administer, s + chair)) >= 1)

    assert not allowed(105)  # 09:45
    assert allowed(165)  # 10:45
    assert not allowed(450)  # 15:30: chair time would run past 17:00


# --- properties ------------------------------------------------------------------------

@st.composite
def intervals_st(draw):
    start = draw(st.integers(0, 59))
    return iv(start, start + draw(st.integers(1, 15)))


lists = st.lists(intervals_st(), max_size=8)


@PROPERTY
@given(lists)
def test_merge_is_normalised_idempotent_and_keeps_points(xs):
    merged = merge(xs)
    assert_normalised(merged)
    assert merge(merged) == merged
    assert points(merged) == points(xs)


@PROPERTY
@given(lists, lists)
def test_union_and_intersect_are_commutative_set_operations(a, b):
    assert union(a, b) == union(b, a)
    assert intersect(a, b) == intersect(b, a)
    assert points(union(a, b)) == points(a) | points(b)
    assert points(intersect(a, b)) == points(a) & points(b)
    assert_normalised(union(a, b))
    assert_normalised(intersect(a, b))


@PROPERTY
@given(lists, lists)
def test_subtract_is_set_difference(a, b):
    diff = subtract(a, b)
    assert_normalised(diff)
    assert points(diff) == points(a) - points(b)
    assert intersect(diff, b) == []
    assert union(diff, intersect(a, b)) == merge(a)


@PROPERTY
@given(lists, intervals_st())
def test_covers_and_overlaps_any_agree_with_brute_force(xs, probe):
    normalised = merge(xs)
    assert covers(normalised, probe) == any(x.contains(probe) for x in normalised)
    assert overlaps_any(normalised, probe) == any(x.overlaps(probe) for x in xs)


@PROPERTY
@given(lists, intervals_st())
def test_clip_equals_per_interval_intersection(xs, window):
    clipped = clip(xs, window)
    assert all(window.contains(c) for c in clipped)
    assert points(clipped) == points(xs) & points([window])
    assert merge(clipped) == intersect(xs, [window])


def brute_count(xs, minute: int) -> int:
    return sum(1 for x in xs if x.contains_instant(at(minute)))


@PROPERTY
@given(lists)
def test_count_agrees_with_brute_force(xs):
    f = StepFunction.count(xs)
    for m in range(-2, 78):
        assert f.value_at(at(m)) == brute_count(xs, m)
    pairs = f.breakpoints()
    values = [f.default] + [v for _, v in pairs]
    assert all(a != b for a, b in zip(values, values[1:]))


@PROPERTY
@given(lists, lists, intervals_st(), st.integers(-3, 3))
def test_min_and_max_over_agree_with_sampling(a, b, window, k):
    f = StepFunction.count(a).scale(k) - StepFunction.count(b) + 1
    samples = [f.value_at(at(m)) for m in range(minute_of(window.start), minute_of(window.end))]
    assert f.min_over(window) == min(samples)
    assert f.max_over(window) == max(samples)
    expected = {m for m in range(minute_of(window.start), minute_of(window.end))
                if f.value_at(at(m)) >= 1}
    assert points(f.at_least(1, window)) == expected


@PROPERTY
@given(lists, lists, st.integers(-3, 3))
def test_arithmetic_is_pointwise(a, b, k):
    f, g = StepFunction.count(a), StepFunction.count(b)
    for m in range(-1, 76):
        t = at(m)
        assert (f + g).value_at(t) == f.value_at(t) + g.value_at(t)
        assert (f - g).value_at(t) == f.value_at(t) - g.value_at(t)
        assert f.scale(k).value_at(t) == k * f.value_at(t)
        assert (-f).value_at(t) == -f.value_at(t)
    assert f - g + g == f
