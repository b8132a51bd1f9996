"""Half-open time intervals, set operations on interval lists, integer step functions.

A *normalised* list is sorted, disjoint and non-touching (touching intervals are merged),
so every instant lies in at most one member and bisect can find that member.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import chain
from operator import attrgetter
from typing import Callable, Iterable, Iterator, Sequence

UTC = timezone.utc
_by_start = attrgetter("start")
_by_end = attrgetter("end")


def as_utc(t: datetime) -> datetime:
    """The instant t expressed in UTC; ValueError for a naive datetime."""
    if t.tzinfo is UTC:
        return t
    if not isinstance(t, datetime):
        raise TypeError(f"expected a datetime, got {type(t).__name__}")
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"naive datetime {t!r}: pass a timezone-aware instant")
    return t.astimezone(UTC)


@dataclass(frozen=True, order=True, slots=True)
class Interval:
    """[start, end): start included, end excluded.

    Bounds are converted to UTC: arithmetic and comparison between datetimes sharing one
    ZoneInfo are wall-clock operations (PEP 495), so a shift across a DST change would land
    an hour off, and == between zones is False for an ambiguous local time.
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        start, end = as_utc(self.start), as_utc(self.end)
        if end <= start:
            raise ValueError(f"empty interval: end {end} <= start {start}")
        if start is not self.start:
            object.__setattr__(self, "start", start)
        if end is not self.end:
            object.__setattr__(self, "end", end)

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end

    def contains(self, other: Interval) -> bool:
        return self.start <= other.start and other.end <= self.end

    def contains_instant(self, t: datetime) -> bool:
        return self.start <= as_utc(t) < self.end

    def intersection(self, other: Interval) -> Interval | None:
        start = max(self.start, other.start)
        end = min(self.end, other.end)
        return Interval(start, end) if start < end else None

    def shift(self, delta: timedelta) -> Interval:
        return Interval(self.start + delta, self.end + delta)

    def expand(self, before: timedelta, after: timedelta) -> Interval:
        """Grow by `before` at the start and `after` at the end (negative values shrink;
        shrinking to nothing raises ValueError)."""
        return Interval(self.start - before, self.end + after)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Normalise: sort, and merge overlapping or touching intervals."""
    out: list[Interval] = []
    for iv in sorted(intervals, key=_by_start):
        if out and iv.start <= out[-1].end:
            if iv.end > out[-1].end:
                out[-1] = Interval(out[-1].start, iv.end)
        else:
            out.append(iv)
    return out


def union(a: Iterable[Interval], b: Iterable[Interval]) -> list[Interval]:
    return merge(chain(a, b))


def intersect(a: Iterable[Interval], b: Iterable[Interval]) -> list[Interval]:
    xs, ys = merge(a), merge(b)
    out: list[Interval] = []
    i = j = 0
    while i < len(xs) and j < len(ys):
        x, y = xs[i], ys[j]
        start, end = max(x.start, y.start), min(x.end, y.end)
        if start < end:
            out.append(Interval(start, end))
        if x.end < y.end:
            i += 1
        else:
            j += 1
    return out


def subtract(a: Iterable[Interval], b: Iterable[Interval]) -> list[Interval]:
    """a minus b."""
    holes = merge(b)
    out: list[Interval] = []
    j = 0
    for x in merge(a):
        while j < len(holes) and holes[j].end <= x.start:
            j += 1
        cursor = x.start
        k = j
        # A hole reaching past x.end is revisited for the next x, hence k and not j.
        while k < len(holes) and holes[k].start < x.end:
            if holes[k].start > cursor:
                out.append(Interval(cursor, holes[k].start))
            cursor = max(cursor, holes[k].end)
            k += 1
        if cursor < x.end:
            out.append(Interval(cursor, x.end))
    return out


def covers(normalised: Sequence[Interval], iv: Interval) -> bool:
    """True when iv lies inside a single member of a normalised list."""
    i = bisect_right(normalised, iv.start, key=_by_start) - 1
    return i >= 0 and normalised[i].end >= iv.end


def overlaps_any(normalised: Sequence[Interval], iv: Interval) -> bool:
    """True when iv shares an instant with some member of a normalised list."""
    i = bisect_right(normalised, iv.start, key=_by_end)
    return i < len(normalised) and normalised[i].start < iv.end


def clip(intervals: Iterable[Interval], window: Interval) -> list[Interval]:
    """Each interval cut to the window, in input order, empty ones dropped.

    Does not merge, so overlapping inputs (e.g. for StepFunction.count) keep their
    multiplicity; a normalised input gives a normalised output.
    """
    out = []
    for iv in intervals:
        part = iv.intersection(window)
        if part is not None:
            out.append(part)
    return out


class StepFunction:
    """Immutable integer-valued step function of time (capacity, slack).

    Equal to `default` before the first breakpoint; from breakpoint i on, values[i] until
    the next one. Kept canonical (no breakpoint leaves the value unchanged), so equality is
    structural and min/max need look only at the breakpoints inside a window.
    """

    __slots__ = ("_default", "_times", "_values")

    def __init__(self, default: int = 0, breakpoints: Iterable[tuple[datetime, int]] = ()):
        times: list[datetime] = []
        values: list[int] = []
        level, previous = default, None
        for t, v in breakpoints:
            t = as_utc(t)
            if previous is not None and t <= previous:
                raise ValueError("breakpoints must be strictly increasing in time")
            previous = t
            if v != level:
                times.append(t)
                values.append(v)
                level = v
        object.__setattr__(self, "_default", default)
        object.__setattr__(self, "_times", tuple(times))
        object.__setattr__(self, "_values", tuple(values))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("StepFunction is immutable")

    @classmethod
    def constant(cls, value: int) -> StepFunction:
        return cls(value)

    @classmethod
    def count(cls, intervals: Iterable[Interval]) -> StepFunction:
        """How many of the intervals (overlaps allowed) contain each instant."""
        deltas: dict[datetime, int] = {}
        for iv in intervals:
            deltas[iv.start] = deltas.get(iv.start, 0) + 1
            deltas[iv.end] = deltas.get(iv.end, 0) - 1
        level = 0
        points = []
        for t in sorted(deltas):
            level += deltas[t]
            points.append((t, level))
        return cls(0, points)

    @property
    def default(self) -> int:
        return self._default

    def breakpoints(self) -> list[tuple[datetime, int]]:
        return list(zip(self._times, self._values))

    def value_at(self, t: datetime) -> int:
        if t.tzinfo is None:
            raise ValueError(f"naive datetime {t!r}: pass a timezone-aware instant")
        i = bisect_right(self._times, t)
        return self._values[i - 1] if i else self._default

    def _window(self, iv: Interval) -> tuple[int, int, int]:
        """Value at iv.start, and the index range of breakpoints strictly inside iv."""
        i = bisect_right(self._times, iv.start)
        j = bisect_left(self._times, iv.end, i)
        return (self._values[i - 1] if i else self._default), i, j

    def min_over(self, iv: Interval) -> int:
        first, i, j = self._window(iv)
        return first if i == j else min(first, min(self._values[i:j]))

    def max_over(self, iv: Interval) -> int:
        first, i, j = self._window(iv)
        return first if i == j else max(first, max(self._values[i:j]))

    def segments(self, window: Interval) -> Iterator[tuple[Interval, int]]:
        """The window cut at each breakpoint, with the constant value on each piece."""
        value, i, j = self._window(window)
        cursor = window.start
        for k in range(i, j):
            yield Interval(cursor, self._times[k]), value
            cursor, value = self._times[k], self._values[k]
        yield Interval(cursor, window.end), value

    def at_least(self, threshold: int, window: Interval) -> list[Interval]:
        """Normalised parts of the window where the value is >= threshold."""
        return merge(piece for piece, v in self.segments(window) if v >= threshold)

    def _combine(self, other: StepFunction | int, op: Callable[[int, int], int]) -> StepFunction:
        if isinstance(other, int):
            other = StepFunction(other)
        elif not isinstance(other, StepFunction):
            return NotImplemented
        times = sorted(set(self._times).union(other._times))
        points = [(t, op(self.value_at(t), other.value_at(t))) for t in times]
        return StepFunction(op(self._default, other._default), points)

    def __add__(self, other: StepFunction | int) -> StepFunction:
        return self._combine(other, lambda x, y: x + y)

    __radd__ = __add__

    def __sub__(self, other: StepFunction | int) -> StepFunction:
        return self._combine(other, lambda x, y: x - y)

    def __rsub__(self, other: int) -> StepFunction:
        return self._combine(other, lambda x, y: y - x)

    def scale(self, k: int) -> StepFunction:
        return StepFunction(self._default * k, ((t, v * k) for t, v in self.breakpoints()))

    def __mul__(self, k: int) -> StepFunction:
        if not isinstance(k, int):
            return NotImplemented
        return self.scale(k)

    __rmul__ = __mul__

    def __neg__(self) -> StepFunction:
        return self.scale(-1)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StepFunction):
            return NotImplemented
        return (self._default, self._times, self._values) == (
            other._default, other._times, other._values)

    def __hash__(self) -> int:
        return hash((self._default, self._times, self._values))

    def __repr__(self) -> str:
        points = ", ".join(f"{t.isoformat()}: {v}" for t, v in self.breakpoints())
        return f"StepFunction(default={self._default}, {{{points}}})"
