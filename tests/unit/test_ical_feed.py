"""The iCalendar feed and VFREEBUSY, read back with icalendar and with vobject."""

import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject

from tests.support.ical import vobject_read

from scheduler.adapters import ical_feed
from scheduler.adapters.ical_feed import FeedEvent, etag_for, render_feed, render_freebusy

UTC = timezone.utc
LA = "America/Los_Angeles"
EDITED = datetime(2027, 1, 5, 12, 0, tzinfo=UTC)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def session(uid: str, start: datetime, minutes: int = 60, **changes) -> FeedEvent:
    event = FeedEvent(
        uid=uid,
        start=start,
        end=start + timedelta(minutes=minutes),
        tz=LA,
        summary="Ketamine session",
        location="Room 2, 100 Main St",
        description=None,
        sequence=0,
        status="CONFIRMED",
        last_modified=EDITED,
    )
    return replace(event, **changes)


# 09:00 local on both sides of each 2027 change in Los Angeles.
DST_SESSIONS = [
    session("before-spring@ketamine-scheduler", utc(2027, 3, 13, 17)),  # PST
    session("after-spring@ketamine-scheduler", utc(2027, 3, 15, 16)),  # PDT
    session("before-fall@ketamine-scheduler", utc(2027, 11, 6, 16)),  # PDT
    session("after-fall@ketamine-scheduler", utc(2027, 11, 8, 17)),  # PST
]


def by_uid_icalendar(body: bytes) -> dict:
    return {str(e["UID"]): e for e in icalendar.Calendar.from_ical(body).events}


def by_uid_vobject(body: bytes) -> dict:
    return {e.uid.value: e for e in vobject_read(body).vevent_list}


def test_feed_has_publish_headers_and_a_vtimezone_per_zone():
    events = [*DST_SESSIONS, session("ny@x", utc(2027, 4, 1, 14), tz="America/New_York")]
    body = render_feed("Dr. Rivera", events, tzids=[LA, "America/Denver"])

    calendar = icalendar.Calendar.from_ical(body)
    assert str(calendar["PRODID"]).startswith("-//")
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["CALSCALE"]) == "GREGORIAN"
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert str(calendar["X-WR-CALNAME"]) == "Dr. Rivera"
    assert sorted(str(tz["TZID"]) for tz in calendar.timezones) == [
        "America/Denver", LA, "America/New_York"
    ]
    assert calendar.get_missing_tzids() == set()
    assert body.endswith(b"END:VCALENDAR\r\n") and b"\n" not in body.replace(b"\r\n", b"")


def test_local_start_times_are_right_across_dst_in_both_parsers():
    body = render_feed("Dr. Rivera", DST_SESSIONS, tzids=[LA])
    with_icalendar, with_vobject = by_uid_icalendar(body), by_uid_vobject(body)
    assert b"DTSTART;TZID=America/Los_Angeles:20270313T090000" in body

    for event in DST_SESSIONS:
        parsed = with_icalendar[event.uid]
        assert parsed["DTSTART"].params["TZID"] == LA
        assert parsed["DTSTART"].dt.replace(tzinfo=None) == datetime(
            *event.start.astimezone(ZoneInfo(LA)).timetuple()[:3], 9, 0
        )
        assert parsed["DTSTART"].dt == event.start
        assert parsed["DTEND"].dt == event.end
        # vobject builds its tzinfo from our VTIMEZONE, not from zoneinfo.
        other = with_vobject[event.uid]
        assert (other.dtstart.value.hour, other.dtstart.value.minute) == (9, 0)
        assert other.dtstart.value.astimezone(UTC) == event.start
        assert other.dtend.value.astimezone(UTC) == event.end


def test_second_pass_of_the_repeated_hour_is_written_in_utc():
    first = session("first-0130@x", utc(2027, 11, 7, 8, 30))  # 01:30 PDT
    second = session("second-0130@x", utc(2027, 11, 7, 9, 30))  # 01:30 PST
    body = render_feed("Night", [first, second], tzids=[])

    assert b"DTSTART;TZID=America/Los_Angeles:20271107T013000" in body
    assert b"DTSTART:20271107T093000Z" in body
    expected = {first.uid: first.start, second.uid: second.start}
    with_icalendar, with_vobject = by_uid_icalendar(body), by_uid_vobject(body)
    assert {uid: e["DTSTART"].dt.astimezone(UTC) for uid, e in with_icalendar.items()} == expected
    assert {uid: e.dtstart.value.astimezone(UTC) for uid, e in with_vobject.items()} == expected


def test_uid_sequence_status_and_transparency_are_published():
    moved = session("moved@ketamine-scheduler", utc(2027, 5, 3, 17), sequence=3)
    cancelled = session("gone@ketamine-scheduler", utc(2027, 5, 4, 17), status="CANCELLED", sequence=1)
    hold = session("hold@ketamine-scheduler", utc(2027, 5, 5, 17), status="TENTATIVE", transparent=True)
    body = render_feed("Room 2", [moved, cancelled, hold], tzids=[LA])

    for events in (by_uid_icalendar(body), by_uid_vobject(body)):
        assert set(events) == {moved.uid, cancelled.uid, hold.uid}
    parsed = by_uid_icalendar(body)
    assert [int(parsed[u]["SEQUENCE"]) for u in (moved.uid, cancelled.uid, hold.uid)] == [3, 1, 0]
    assert str(parsed[cancelled.uid]["STATUS"]) == "CANCELLED"
    assert str(parsed[hold.uid]["STATUS"]) == "TENTATIVE"
    assert str(parsed[hold.uid]["TRANSP"]) == "TRANSPARENT"
    assert str(parsed[moved.uid]["TRANSP"]) == "OPAQUE"
    assert parsed[moved.uid]["LAST-MODIFIED"].dt == EDITED
    assert parsed[moved.uid]["DTSTAMP"].dt == EDITED
    assert str(parsed[moved.uid]["LOCATION"]) == "Room 2, 100 Main St"
    assert "DESCRIPTION" not in parsed[moved.uid]


def test_text_is_escaped_and_long_lines_folded():
    note = "Bring a driver; no food 4h before, please.\nCall 555-0100 " + "x" * 120
    body = render_feed("Dr. Rivera", [session("note@x", utc(2027, 6, 1, 16), description=note)], [])
    assert all(len(line) <= 75 for line in body.split(b"\r\n"))
    assert str(by_uid_icalendar(body)["note@x"]["DESCRIPTION"]) == note
    assert by_uid_vobject(body)["note@x"].description.value == note


def test_same_schedule_renders_identical_bytes_and_etag_in_any_order():
    first = render_feed("Dr. Rivera", DST_SESSIONS, [LA])
    again = render_feed("Dr. Rivera", list(reversed(DST_SESSIONS)), [LA])
    assert first == again
    assert etag_for(first) == etag_for(again)
    assert etag_for(first).startswith('"') and etag_for(first).endswith('"')
    assert not etag_for(first).startswith('W/')

    bumped = [replace(DST_SESSIONS[0], sequence=1), *DST_SESSIONS[1:]]
    assert etag_for(render_feed("Dr. Rivera", bumped, [LA])) != etag_for(first)


def test_empty_feed_still_has_the_location_zone():
    calendar = icalendar.Calendar.from_ical(render_feed("Empty", [], tzids=[LA]))
    assert calendar.events == []
    assert [str(tz["TZID"]) for tz in calendar.timezones] == [LA]


@pytest.mark.parametrize(
    "changes",
    [
        {"start": datetime(2027, 5, 1, 9)},  # naive
        {"status": "DONE"},
        {"end": utc(2027, 5, 1, 8)},  # before start
        {"sequence": -1},
    ],
)
def test_invalid_events_are_refused(changes):
    event = replace(session("bad@x", utc(2027, 5, 1, 16)), **changes)
    with pytest.raises(ValueError):
        render_feed("Bad", [event], [])


def test_unknown_zone_is_refused():
    with pytest.raises(Exception, match="Nowhere"):
        render_feed("Bad", [session("tz@x", utc(2027, 5, 1, 16), tz="Mars/Nowhere")], [])


def test_freebusy_merges_clips_and_writes_utc_periods():
    window = (utc(2027, 3, 14, 0), utc(2027, 3, 16, 0))
    pdt = ZoneInfo(LA)
    busy = [
        (datetime(2027, 3, 15, 9, 0, tzinfo=pdt), datetime(2027, 3, 15, 10, 0, tzinfo=pdt)),
        (utc(2027, 3, 15, 16, 30), utc(2027, 3, 15, 18)),  # overlaps the one above
        (utc(2027, 3, 13, 22), utc(2027, 3, 14, 1)),  # starts before the window
        (utc(2027, 3, 20, 0), utc(2027, 3, 20, 1)),  # outside
    ]
    body = render_freebusy("Dr. Rivera", *window, busy, organizer_uri="mailto:rivera@example.org")

    calendar = icalendar.Calendar.from_ical(body)
    [freebusy] = calendar.walk("VFREEBUSY")
    assert freebusy["DTSTART"].dt == window[0] and freebusy["DTEND"].dt == window[1]
    assert b"FREEBUSY;FBTYPE=BUSY" in body
    periods = [(p.dt[0], p.dt[1]) for p in _as_list(freebusy["FREEBUSY"])]
    assert periods == [(utc(2027, 3, 14, 0), utc(2027, 3, 14, 1)), (utc(2027, 3, 15, 16), utc(2027, 3, 15, 18))]
    assert b"20270315T160000Z/20270315T180000Z" in body

    other = vobject.readOne(body.decode())
    assert [str(fb.value[0][0]) for fb in other.vfreebusy.freebusy_list] == [
        "2027-03-14 00:00:00+00:00", "2027-03-15 16:00:00+00:00"
    ]
    assert other.vfreebusy.organizer.value == "mailto:rivera@example.org"


def _as_list(value):
    return value if isinstance(value, list) else [value]


def test_2000_event_feed_render_time_is_printed(capsys):
    start = utc(2027, 1, 4, 16)
    events = [
        session(f"appt-{i}@ketamine-scheduler", start + timedelta(hours=3 * i), minutes=120,
                sequence=i % 4, status="CANCELLED" if i % 10 == 0 else "CONFIRMED",
                description="Provider: Dr. Rivera; monitoring 120 min")
        for i in range(2000)
    ]
    ical_feed._vevent_ical.cache_clear()
    began = time.perf_counter()
    body = render_feed("Dr. Rivera", events, [LA])
    cold = time.perf_counter() - began
    began = time.perf_counter()
    assert render_feed("Dr. Rivera", events, [LA]) == body
    warm = time.perf_counter() - began
    with capsys.disabled():
        print(f"\n2,000-event feed: {cold * 1000:.0f} ms cold, {warm * 1000:.1f} ms cached, "
              f"{len(body) // 1024} KiB")
    assert body.count(b"BEGIN:VEVENT") == 2000
    assert body.count(b"STATUS:CANCELLED") == 200
