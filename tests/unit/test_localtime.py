from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.domain.intervals import Interval
from scheduler.domain.localtime import (
    END_OF_DAY,
    MIDNIGHT,
    WEEKDAYS,
    format_wall_time,
    grid_starts,
    local_date_of,
    local_dates,
    local_day_window,
    local_span,
    local_to_utc,
    parse_wall_time,
    to_local,
    weekday_code,
)

UTC = timezone.utc
LA = ZoneInfo("America/Los_Angeles")
SANTIAGO = ZoneInfo("America/Santiago")  # DST starts at midnight: 2027-09-05 00:00 -> 01:00
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # half-hour DST shifts
APIA = ZoneInfo("Pacific/Apia")  # skipped 2011-12-30 entirely
SPRING = date(2027, 3, 14)
FALL = date(2027, 11, 7)
PROPERTY = settings(max_examples=100, deadline=None)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def wall(t: datetime, tz=LA) -> str:
    return to_local(t, tz).strftime("%Y-%m-%dT%H:%M%z")


def test_weekday_codes_follow_the_calendar():
    assert WEEKDAYS == ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    assert weekday_code(date(2027, 1, 4)) == "mon"
    assert weekday_code(SPRING) == "sun"
    assert weekday_code(date(2027, 3, 13)) == "sat"


def test_to_local_and_local_date_of():
    t = utc(2027, 1, 8, 2, 0)
    assert wall(t) == "2027-01-07T18:00-0800"
    assert local_date_of(t, LA) == date(2027, 1, 7)
    with pytest.raises(ValueError):
        to_local(datetime(2027, 1, 8, 2, 0), LA)


def test_local_to_utc_ordinary_time():
    assert local_to_utc(date(2027, 1, 7), time(9, 0), LA) == utc(2027, 1, 7, 17, 0)
    assert local_to_utc(date(2027, 7, 7), time(9, 0), LA) == utc(2027, 7, 7, 16, 0)


def test_local_to_utc_is_none_in_spring_forward_gap():
    assert local_to_utc(SPRING, time(2, 0), LA) is None
    assert local_to_utc(SPRING, time(2, 59), LA) is None
    assert local_to_utc(SPRING, time(1, 59), LA) == utc(2027, 3, 14, 9, 59)
    assert local_to_utc(SPRING, time(3, 0), LA) == utc(2027, 3, 14, 10, 0)


def test_local_to_utc_uses_first_occurrence_of_repeated_hour():
    assert local_to_utc(FALL, time(1, 30), LA) == utc(2027, 11, 7, 8, 30)  # PDT
    assert local_to_utc(FALL, time(1, 30, fold=1), LA) == utc(2027, 11, 7, 8, 30)
    assert local_to_utc(FALL, time(2, 0), LA) == utc(2027, 11, 7, 10, 0)  # PST


def test_local_to_utc_rejects_aware_wall_time():
    with pytest.raises(ValueError):
        local_to_utc(SPRING, time(9, 0, tzinfo=UTC), LA)


@pytest.mark.parametrize("day, first_start", [
    (date(2027, 3, 13), "2027-03-13T08:00-0800"),
    (date(2027, 3, 14), "2027-03-14T08:00-0700"),
    (date(2027, 11, 6), "2027-11-06T08:00-0700"),
    (date(2027, 11, 7), "2027-11-07T08:00-0800"),
])
def test_daily_rule_starts_at_eight_local_on_both_sides_of_dst(day, first_start):
    span = local_span(day, time(8), time(17), LA)
    assert span.duration == timedelta(hours=9)
    starts = grid_starts(span, LA, 15)
    assert wall(starts[0]) == first_start
    assert wall(starts[-1]).endswith("T16:45" + first_start[-5:])
    assert len(starts) == 36


def test_daily_rule_instants_in_utc_across_spring_change():
    assert local_span(date(2027, 3, 13), time(8), time(17), LA).start == utc(2027, 3, 13, 16)
    assert local_span(SPRING, time(8), time(17), LA).start == utc(2027, 3, 14, 15)


def test_span_across_gap_is_one_real_hour():
    span = local_span(SPRING, time(1), time(3), LA)
    assert span == Interval(utc(2027, 3, 14, 9), utc(2027, 3, 14, 10))


def test_span_bounds_inside_gap_move_to_end_of_gap():
    assert local_span(SPRING, time(2, 30), time(4), LA) == Interval(
        utc(2027, 3, 14, 10), utc(2027, 3, 14, 11))
    assert local_span(SPRING, time(1), time(2, 30), LA) == Interval(
        utc(2027, 3, 14, 9), utc(2027, 3, 14, 10))


def test_span_entirely_inside_gap_is_none():
    assert local_span(SPRING, time(2, 15), time(2, 45), LA) is None


def test_span_over_repeated_hour_covers_both_occurrences():
    span = local_span(FALL, time(1), time(2), LA)
    assert span == Interval(utc(2027, 11, 7, 8), utc(2027, 11, 7, 10))


def test_span_end_before_or_at_start_is_none():
    assert local_span(SPRING, time(17), time(8), LA) is None
    assert local_span(SPRING, time(8), time(8), LA) is None


def test_span_ending_at_midnight_runs_to_end_of_day():
    span = local_span(date(2027, 1, 7), time(20), time(0), LA)
    assert span == Interval(utc(2027, 1, 8, 4), utc(2027, 1, 8, 8))


def test_span_starting_at_nonexistent_midnight_starts_when_day_does():
    span = local_span(date(2027, 9, 5), time(0), time(2), SANTIAGO)
    assert wall(span.start, SANTIAGO) == "2027-09-05T01:00-0300"
    assert span.duration == timedelta(hours=1)


@pytest.mark.parametrize("day, tz, hours", [
    (SPRING, LA, 23),
    (FALL, LA, 25),
    (date(2027, 11, 6), LA, 24),
    (date(2027, 9, 5), SANTIAGO, 23),
    (date(2027, 10, 3), LORD_HOWE, 23.5),
    (date(2027, 4, 4), LORD_HOWE, 24.5),
])
def test_local_day_window_lengths(day, tz, hours):
    window = local_day_window(day, tz)
    assert window.duration == timedelta(hours=hours)
    assert local_date_of(window.start, tz) == day
    assert local_date_of(window.end, tz) == day + timedelta(days=1)


def test_local_day_window_of_skipped_date_raises():
    with pytest.raises(ValueError):
        local_day_window(date(2011, 12, 30), APIA)


def test_local_dates_excludes_date_starting_at_window_end():
    window = local_day_window(date(2027, 1, 7), LA)
    assert local_dates(window, LA) == [date(2027, 1, 7)]
    longer = Interval(window.start, window.end + timedelta(minutes=1))
    assert local_dates(longer, LA) == [date(2027, 1, 7), date(2027, 1, 8)]


def test_local_dates_lists_every_day_in_between():
    window = Interval(utc(2027, 3, 12, 20), utc(2027, 3, 16, 1))
    assert local_dates(window, LA) == [date(2027, 3, d) for d in (12, 13, 14, 15)]


def test_local_dates_skips_date_the_zone_never_had():
    window = Interval(utc(2011, 12, 29), utc(2012, 1, 2))
    assert date(2011, 12, 30) not in local_dates(window, APIA)
    assert date(2011, 12, 31) in local_dates(window, APIA)


def test_grid_skips_the_missing_hour():
    starts = grid_starts(local_span(SPRING, time(1), time(4), LA), LA, 15)
    assert [wall(t)[11:] for t in starts] == (
        [f"01:{m:02d}-0800" for m in (0, 15, 30, 45)]
        + [f"03:{m:02d}-0700" for m in (0, 15, 30, 45)])


def test_grid_offers_repeated_hour_once():
    starts = grid_starts(local_span(FALL, time(0), time(3), LA), LA, 15)
    walls = [to_local(t, LA).strftime("%H:%M") for t in starts]
    assert len(walls) == len(set(walls)) == 12
    assert all(to_local(t, LA).fold == 0 for t in starts)
    # The second 01:xx hour (PST) has no starts at all.
    assert not [t for t in starts if utc(2027, 11, 7, 9) <= t < utc(2027, 11, 7, 10)]


def test_grid_window_is_half_open():
    window = Interval(utc(2027, 1, 7, 17, 0), utc(2027, 1, 7, 18, 0))
    assert grid_starts(window, LA, 30) == [utc(2027, 1, 7, 17, 0), utc(2027, 1, 7, 17, 30)]


def test_grid_aligns_to_local_midnight_not_window_start():
    window = Interval(utc(2027, 1, 7, 17, 5), utc(2027, 1, 7, 17, 50))
    assert grid_starts(window, LA, 15) == [utc(2027, 1, 7, 17, m) for m in (15, 30, 45)]


def test_grid_restarts_each_local_day_for_uneven_steps():
    window = Interval(utc(2027, 1, 8, 7, 40), utc(2027, 1, 8, 8, 10))  # 23:40-00:10 local
    assert [wall(t)[11:16] for t in grid_starts(window, LA, 7)] == [
        "23:41", "23:48", "23:55", "00:00", "00:07"]


def test_grid_follows_half_hour_dst_shift():
    starts = grid_starts(local_span(date(2027, 10, 3), time(1), time(3), LORD_HOWE), LORD_HOWE, 30)
    assert [wall(t, LORD_HOWE)[11:16] for t in starts] == ["01:00", "01:30", "02:30"]


def test_grid_rejects_non_positive_step():
    window = Interval(utc(2027, 1, 7, 17), utc(2027, 1, 7, 18))
    for bad in (0, -15, 1.5):
        with pytest.raises(ValueError):
            grid_starts(window, LA, bad)


# --- properties ------------------------------------------------------------------------

ZONES = {"LA": LA, "Lord_Howe": LORD_HOWE, "Santiago": SANTIAGO}
ANCHORS = {  # UTC instants of DST changes in 2027
    "LA": [utc(2027, 3, 14, 10), utc(2027, 11, 7, 9)],
    "Lord_Howe": [utc(2027, 4, 3, 15), utc(2027, 10, 2, 15, 30)],
    "Santiago": [utc(2027, 4, 4, 3), utc(2027, 9, 5, 4)],
}


@st.composite
def windows_near_changes(draw, max_minutes=2000):
    name = draw(st.sampled_from(sorted(ZONES)))
    anchor = draw(st.sampled_from(ANCHORS[name]))
    start = anchor + timedelta(minutes=draw(st.integers(-1500, 1500)))
    length = timedelta(minutes=draw(st.integers(1, max_minutes)))
    return ZONES[name], Interval(start, start + length)


def minutes_of(window: Interval):
    t = window.start
    while t < window.end:
        yield t
        t += timedelta(minutes=1)


@PROPERTY
@given(windows_near_changes(), st.sampled_from([5, 7, 15, 30, 60]))
def test_grid_matches_brute_force_over_every_minute(zone_window, step):
    tz, window = zone_window
    expected = []
    for t in minutes_of(window):
        local = to_local(t, tz)
        if local.fold == 0 and (local.hour * 60 + local.minute) % step == 0:
            expected.append(t)
    assert grid_starts(window, tz, step) == expected


@PROPERTY
@given(windows_near_changes(max_minutes=3000))
def test_local_dates_match_brute_force(zone_window):
    tz, window = zone_window
    brute = {local_date_of(t, tz) for t in minutes_of(window)}
    brute.add(local_date_of(window.end - timedelta(microseconds=1), tz))
    assert local_dates(window, tz) == sorted(brute)


@PROPERTY
@given(windows_near_changes(max_minutes=1))
def test_local_to_utc_round_trips_to_first_occurrence(zone_window):
    tz, window = zone_window
    t = window.start
    local = to_local(t, tz)
    back = local_to_utc(local.date(), local.time(), tz)
    if local.fold == 0:
        assert back == t
    else:
        assert back < t
        assert to_local(back, tz).replace(tzinfo=None) == local.replace(tzinfo=None)


@PROPERTY
@given(windows_near_changes(max_minutes=1), st.integers(1, 24 * 60))
def test_day_windows_tile_time_and_spans_stay_within_their_day(zone_window, end_minute):
    tz, window = zone_window
    day = local_date_of(window.start, tz)
    today = local_day_window(day, tz)
    assert today.contains_instant(window.start)
    assert local_day_window(day + timedelta(days=1), tz).start == today.end
    end = time(0) if end_minute == 24 * 60 else time(end_minute // 60, end_minute % 60)
    span = local_span(day, time(0), end, tz)
    if span is not None:
        assert today.contains(span) and span.start == today.start


# ---------------------------------------------------------------- "HH:MM" wall times
@PROPERTY
@given(st.integers(0, 23), st.integers(0, 59), st.booleans())
def test_every_wall_time_parses_to_itself_and_formats_back(hours, minutes, end):
    text = f"{hours:02d}:{minutes:02d}"
    assert parse_wall_time(text, end=end) == time(hours, minutes)
    assert format_wall_time(parse_wall_time(text, end=end)) == text


def test_24_00_is_the_end_of_the_day_and_only_an_end():
    assert parse_wall_time("24:00", end=True) == END_OF_DAY
    assert format_wall_time(END_OF_DAY) == "24:00"
    with pytest.raises(ValueError, match="only ends a span"):
        parse_wall_time("24:00")
    # As a span's end it means the same midnight as 00:00 does.
    day = date(2027, 11, 6)
    assert local_span(day, time(18), END_OF_DAY, LA) == local_span(day, time(18), MIDNIGHT, LA)
    assert local_span(day, time(18), END_OF_DAY, LA).end == local_day_window(day, LA).end


@pytest.mark.parametrize("text", ["24:01", "25:00", "12:60", "7:00", "07:0", "0700", "07-00",
                                  " 7:00", "", None, 700, "１２:００"])
def test_anything_but_hh_mm_is_refused(text):
    with pytest.raises(ValueError, match="HH:MM"):
        parse_wall_time(text, end=True)
