from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduler.domain.quiet_hours import fit_outside_quiet, is_quiet

LA = ZoneInfo("America/Los_Angeles")
START, END = time(21, 0), time(8, 0)


def at(*args):
    return datetime(*args, tzinfo=LA)


def fit(due, now, deadline, start=START, end=END):
    out = fit_outside_quiet(due, now=now, deadline=deadline, tz="America/Los_Angeles",
                            start=start, end=end)
    return None if out is None else out.astimezone(LA)


@pytest.mark.parametrize("wall,quiet", [((20, 59), False), ((21, 0), True), ((23, 59), True),
                                         ((0, 0), True), ((7, 59), True), ((8, 0), False)])
def test_window_crossing_midnight(wall, quiet):
    assert is_quiet(at(2027, 6, 1, *wall), LA, START, END) is quiet


def test_window_within_a_day_and_empty_window():
    assert is_quiet(at(2027, 6, 1, 13, 0), LA, time(12), time(14))
    assert not is_quiet(at(2027, 6, 1, 14, 0), LA, time(12), time(14))
    assert not is_quiet(at(2027, 6, 1, 23, 0), LA, time(9), time(9))


def test_quiet_hours_are_local_time_not_utc():
    # 21:30 in Los Angeles is 04:30 UTC (summer): quiet there, whatever UTC says.
    assert is_quiet(datetime.fromisoformat("2027-06-02T04:30:00+00:00"), LA, START, END)


def test_allowed_time_is_kept():
    due = at(2027, 6, 1, 17, 0)
    assert fit(due, at(2027, 6, 1, 9), at(2027, 6, 2, 9)) == due


def test_late_evening_text_moves_earlier_before_quiet_hours():
    assert fit(at(2027, 6, 1, 21, 30), at(2027, 6, 1, 9), at(2027, 6, 2, 9)) == \
        at(2027, 6, 1, 20, 45)


def test_early_morning_text_moves_later_to_quiet_end_when_nearer():
    # A 2-hours-before reminder for a 09:00 session: 08:00 beats the evening before.
    assert fit(at(2027, 6, 2, 7, 0), at(2027, 6, 1, 9), at(2027, 6, 2, 8, 30)) == \
        at(2027, 6, 2, 8, 0)


def test_moves_earlier_when_later_would_miss_the_deadline():
    assert fit(at(2027, 6, 2, 6, 15), at(2027, 6, 1, 9), at(2027, 6, 2, 7, 45)) == \
        at(2027, 6, 1, 20, 45)


def test_text_due_at_night_during_booking_goes_at_quiet_end():
    now = at(2027, 6, 1, 23, 10)
    assert fit(now, now, at(2027, 6, 3, 9)) == at(2027, 6, 2, 8, 0)


def test_moving_earlier_uses_now_when_inside_the_margin():
    now = at(2027, 6, 1, 20, 50)
    assert fit(at(2027, 6, 1, 21, 30), now, at(2027, 6, 2, 8, 30)) == now


def test_skipped_when_no_allowed_time_is_useful():
    now = at(2027, 6, 1, 23, 10)
    assert fit(now, now, at(2027, 6, 2, 7, 30)) is None


def test_due_outside_now_deadline_is_refused():
    assert fit(at(2027, 6, 1, 10), at(2027, 6, 1, 11), at(2027, 6, 2)) is None
    assert fit(at(2027, 6, 1, 10), at(2027, 6, 1, 9), at(2027, 6, 1, 10)) is None


@pytest.mark.parametrize("day", [14, 15])
def test_across_spring_forward(day):
    # 2027-03-14: clocks jump 02:00 -> 03:00. Quiet end is still 08:00 local (PDT).
    due = at(2027, 3, day, 6, 0)
    out = fit(due, at(2027, 3, 13, 12), at(2027, 3, day, 9))
    assert out == at(2027, 3, day, 8, 0) and out.utcoffset() == timedelta(hours=-7)


def test_across_fall_back():
    # 2027-11-07: 02:00 PDT -> 01:00 PST, so the quiet night lasts 12 real hours.
    # A text due at 05:00 PST is 3 h from 08:00 PST and 9 h 15 from 20:45 PDT.
    due = datetime.fromisoformat("2027-11-07T13:00:00+00:00")
    out = fit(due, at(2027, 11, 6, 12), at(2027, 11, 7, 10))
    assert out == at(2027, 11, 7, 8, 0) and out.utcoffset() == timedelta(hours=-8)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        is_quiet(datetime(2027, 6, 1, 22), LA, START, END)
