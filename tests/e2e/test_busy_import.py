"""Busy time read from a real Radicale (CalDAV) and from ICS over a local HTTP server."""

import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import icalendar
import pytest
from dateutil.rrule import rrulestr
from hypothesis import given, reject, settings, strategies as st

from scheduler.adapters.busy_import import CalendarUnreachable, fetch_caldav, fetch_ics
from scheduler.adapters.ical_busy import (BusyPeriod, CalendarDataError, TooManyOccurrences, parse_busy,
                                          parse_busy_all)
from scheduler.adapters.recurrence_cost import expansion_steps
from tests.support.network import policy_allowing
from tests.support.radicale_server import RadicaleServer, free_port

UTC = timezone.utc
LA = "America/Los_Angeles"
OWN = "@ketamine-scheduler"
WINDOW = (datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC))


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def vcalendar(*components: str) -> str:
    body = "".join(c.strip() + "\n" for c in components)
    return f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//busy//EN\n{body}END:VCALENDAR\n"


def vevent(uid: str, *lines: str) -> str:
    return "\n".join(["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20270101T000000Z", *lines, "END:VEVENT"])


# Outlook-style: one yearly RRULE per observance, anchored in 1601.
LA_VTIMEZONE = """BEGIN:VTIMEZONE
TZID:America/Los_Angeles
BEGIN:STANDARD
DTSTART:16011104T020000
RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11
TZOFFSETFROM:-0700
TZOFFSETTO:-0800
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010311T020000
RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3
TZOFFSETFROM:-0800
TZOFFSETTO:-0700
END:DAYLIGHT
END:VTIMEZONE"""

TZ = f"TZID={LA}"
EVENTS = {
    "single": vcalendar(vevent(
        "single@gmail", f"DTSTART;{TZ}:20270303T100000", f"DTEND;{TZ}:20270303T110000",
        "SUMMARY:Dentist")),
    # Mondays 12:00: 3/8 excluded, 3/15 moved to Tue 3/16 14:00, 3/22 cancelled.
    "weekly": vcalendar(
        vevent("weekly@gmail", f"DTSTART;{TZ}:20270301T120000", f"DTEND;{TZ}:20270301T130000",
               "RRULE:FREQ=WEEKLY;COUNT=5", f"EXDATE;{TZ}:20270308T120000"),
        vevent("weekly@gmail", f"RECURRENCE-ID;{TZ}:20270315T120000",
               f"DTSTART;{TZ}:20270316T140000", f"DTEND;{TZ}:20270316T150000"),
        vevent("weekly@gmail", f"RECURRENCE-ID;{TZ}:20270322T120000",
               f"DTSTART;{TZ}:20270322T120000", f"DTEND;{TZ}:20270322T130000",
               "STATUS:CANCELLED")),
    "all-day": vcalendar(vevent(
        "allday@gmail", "DTSTART;VALUE=DATE:20270314", "DTEND;VALUE=DATE:20270315")),
    "transparent": vcalendar(vevent(
        "free@gmail", f"DTSTART;{TZ}:20270304T090000", f"DTEND;{TZ}:20270304T170000",
        "TRANSP:TRANSPARENT")),
    "cancelled": vcalendar(vevent(
        "cancelled@gmail", f"DTSTART;{TZ}:20270305T090000", f"DTEND;{TZ}:20270305T100000",
        "STATUS:CANCELLED")),
    "dst-with-vtimezone": vcalendar(LA_VTIMEZONE, vevent(
        "tue@outlook", f"DTSTART;{TZ}:20270309T090000", f"DTEND;{TZ}:20270309T100000",
        "RRULE:FREQ=WEEKLY;COUNT=3")),
    "dst-without-vtimezone": vcalendar(vevent(
        "thu@apple", f"DTSTART;{TZ}:20270311T090000", f"DTEND;{TZ}:20270311T100000",
        "RRULE:FREQ=WEEKLY;COUNT=3")),
    "our-own-export": vcalendar(vevent(
        f"appt-7{OWN}", f"DTSTART;{TZ}:20270302T090000", f"DTEND;{TZ}:20270302T110000")),
}

EXPECTED = [
    ("weekly@gmail", utc(2027, 3, 1, 20), utc(2027, 3, 1, 21)),  # 12:00 PST
    ("single@gmail", utc(2027, 3, 3, 18), utc(2027, 3, 3, 19)),
    ("tue@outlook", utc(2027, 3, 9, 17), utc(2027, 3, 9, 18)),  # 09:00 PST
    ("thu@apple", utc(2027, 3, 11, 17), utc(2027, 3, 11, 18)),
    ("allday@gmail", utc(2027, 3, 14, 8), utc(2027, 3, 15, 7)),  # a 23-hour local day
    ("tue@outlook", utc(2027, 3, 16, 16), utc(2027, 3, 16, 17)),  # 09:00 PDT
    ("weekly@gmail", utc(2027, 3, 16, 21), utc(2027, 3, 16, 22)),  # moved, 14:00 PDT
    ("thu@apple", utc(2027, 3, 18, 16), utc(2027, 3, 18, 17)),
    ("tue@outlook", utc(2027, 3, 23, 16), utc(2027, 3, 23, 17)),
    ("thu@apple", utc(2027, 3, 25, 16), utc(2027, 3, 25, 17)),
    ("weekly@gmail", utc(2027, 3, 29, 19), utc(2027, 3, 29, 20)),  # 12:00 PDT
]


def caldav_from(url, *args, **kwargs):
    """fetch_caldav with the server at ``url`` exempted, as OUTBOUND_ALLOWED_HOSTS would."""
    return fetch_caldav(url, *args, policy=policy_allowing(url), **kwargs)


def ics_from(url, *args, **kwargs):
    return fetch_ics(url, *args, policy=policy_allowing(url), **kwargs)


def busy_from(objects: list[bytes]) -> list[tuple[str, datetime, datetime]]:
    blocks = [b for o in objects for b in parse_busy(o, *WINDOW, LA, OWN)]
    return sorted((b.uid, b.start, b.end) for b in blocks)


# -- CalDAV against a real Radicale ------------------------------------------------
@pytest.fixture(scope="module")
def radicale(tmp_path_factory):
    server = RadicaleServer(tmp_path_factory.mktemp("radicale"))
    server.start()
    print(f"\nRadicale answered after {server.last_start_seconds * 1000:.0f} ms")
    calendar = server.make_calendar("alice", "busy")
    for ics in EVENTS.values():
        server.put_event(calendar, ics)
    yield server
    server.close()


def test_caldav_events_become_exact_utc_blocks_across_dst(radicale):
    objects = caldav_from(radicale.calendar_url("alice", "busy"), "alice", "x", *WINDOW, timeout=5)
    assert len(objects) == len(EVENTS)
    assert busy_from(objects) == sorted(EXPECTED)
    blocks = parse_busy(objects[0], *WINDOW, LA, OWN)
    assert all(isinstance(b, BusyPeriod) and b.summary_hidden for b in blocks)
    assert all(b.start.tzinfo is UTC for b in blocks)


def test_principal_url_reads_every_calendar_of_the_user(radicale):
    extra = radicale.make_calendar("alice", "personal")
    radicale.put_event(extra, vcalendar(vevent(
        "gym@apple", f"DTSTART;{TZ}:20270306T080000", f"DTEND;{TZ}:20270306T090000")))
    objects = caldav_from(radicale.principal_url("alice"), "alice", "x", *WINDOW, timeout=5)
    assert busy_from(objects) == sorted([*EXPECTED, ("gym@apple", utc(2027, 3, 6, 16), utc(2027, 3, 6, 17))])


def test_events_outside_the_window_are_not_returned(radicale):
    window = (utc(2027, 5, 1), utc(2027, 6, 1))
    objects = caldav_from(radicale.calendar_url("alice", "busy"), "alice", "x", *window, timeout=5)
    assert [b for o in objects for b in parse_busy(o, *window, LA, OWN)] == []


def test_deleted_event_disappears_on_next_fetch(radicale):
    calendar = radicale.make_calendar("alice", "scratch")
    url = radicale.calendar_url("alice", "scratch")
    radicale.put_event(calendar, EVENTS["single"])
    radicale.put_event(calendar, EVENTS["dst-without-vtimezone"])
    assert {uid for uid, *_ in busy_from(caldav_from(url, "alice", "x", *WINDOW, 5))} == {
        "single@gmail", "thu@apple"
    }
    radicale.delete_event(calendar, "single@gmail")
    assert {uid for uid, *_ in busy_from(caldav_from(url, "alice", "x", *WINDOW, 5))} == {"thu@apple"}


def test_wrong_calendar_url_is_unreachable(radicale):
    with pytest.raises(CalendarUnreachable) as caught:
        caldav_from(radicale.calendar_url("alice", "nope"), "alice", "x", *WINDOW, timeout=5)
    assert caught.value.kind == "not_found"


def test_stopped_server_is_unreachable_then_recovers_after_restart(radicale):
    url = radicale.calendar_url("alice", "busy")
    radicale.stop()
    try:
        with pytest.raises(CalendarUnreachable) as caught:
            caldav_from(url, "alice", "x", *WINDOW, timeout=2)
        assert caught.value.kind == "connection"
    finally:
        radicale.start()
    assert busy_from(caldav_from(url, "alice", "x", *WINDOW, timeout=5)) == sorted(EXPECTED)


def test_wrong_password_is_unreachable_with_an_auth_reason(tmp_path):
    with RadicaleServer(tmp_path, users={"bob": "secret"}) as server:
        server.make_calendar("bob", "busy")
        url = server.calendar_url("bob", "busy")
        assert caldav_from(url, "bob", "secret", *WINDOW, timeout=5) == []
        assert caldav_from(url, "bob", "secret", *WINDOW, timeout=5, auth_type=None) == []
        with pytest.raises(CalendarUnreachable) as caught:
            caldav_from(url, "bob", "wrong", *WINDOW, timeout=5)
    assert caught.value.kind == "auth" and "401" in caught.value.reason


# -- ICS over HTTP -------------------------------------------------------------------
FEED = EVENTS["dst-with-vtimezone"].encode()
FEED_ETAG = '"v1"'
FEED_MODIFIED = "Mon, 01 Mar 2027 00:00:00 GMT"


class Handler(BaseHTTPRequestHandler):
    release = threading.Event()  # set at teardown so slow handlers finish

    def log_message(self, *args):
        pass

    def do_GET(self):
        route = getattr(self, "route_" + self.path.strip("/").replace(".", "_"), None)
        try:
            (route or self.route_missing)()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as the timeout tests intend

    do_PROPFIND = do_GET  # CalDAV's first request; /slow makes it hang

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def route_feed_ics(self):
        if self.headers.get("If-None-Match") == FEED_ETAG:
            self.reply(304, headers=[("ETag", FEED_ETAG)])
        else:
            self.reply(200, FEED, [("ETag", FEED_ETAG), ("Last-Modified", FEED_MODIFIED),
                                   ("Content-Type", "text/calendar")])

    def route_error(self):
        self.reply(500, b"boom")

    def route_private(self):
        self.reply(401, b"no", [("WWW-Authenticate", 'Basic realm="x"')])

    def route_slow(self):
        self.release.wait(3)
        self.reply(200, FEED)

    def route_dribble(self):
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        for _ in range(30):
            if self.release.wait(0.1):
                return
            self.wfile.write(b"X" * 100)
            self.wfile.flush()

    def route_missing(self):
        self.reply(404, b"missing")


@pytest.fixture(scope="module")
def http_base():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    Handler.release.clear()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    Handler.release.set()
    server.shutdown()
    server.server_close()


def test_ics_200_then_304_with_etag(http_base):
    first = ics_from(f"{http_base}/feed.ics", None, None, timeout=2)
    assert (first.status, first.body, first.etag, first.last_modified) == ("ok", FEED, FEED_ETAG, FEED_MODIFIED)
    assert [b.start for b in parse_busy(first.body, *WINDOW, LA, OWN)] == [
        utc(2027, 3, 9, 17), utc(2027, 3, 16, 16), utc(2027, 3, 23, 16)
    ]
    second = ics_from(f"{http_base}/feed.ics", first.etag, first.last_modified, timeout=2)
    assert (second.status, second.body, second.etag) == ("not_modified", None, FEED_ETAG)
    assert second.last_modified == FEED_MODIFIED


@pytest.mark.parametrize(
    "path, kind, words",
    [("/error", "http_error", "500"), ("/private", "auth", "401"), ("/gone.ics", "not_found", "404")],
)
def test_ics_http_errors_are_unreachable(http_base, path, kind, words):
    with pytest.raises(CalendarUnreachable) as caught:
        ics_from(http_base + path, None, None, timeout=2)
    assert caught.value.kind == kind and words in caught.value.reason


@pytest.mark.parametrize("path", ["/slow", "/dribble"])
def test_slow_ics_server_times_out(http_base, path):
    began = time.monotonic()
    with pytest.raises(CalendarUnreachable) as caught:
        ics_from(http_base + path, None, None, timeout=0.5)
    assert caught.value.kind == "timeout"
    assert time.monotonic() - began < 1.5


def test_ics_connection_refused_is_unreachable():
    with pytest.raises(CalendarUnreachable) as caught:
        ics_from(f"http://127.0.0.1:{free_port()}/x.ics", None, None, timeout=1)
    assert caught.value.kind == "connection"


def test_slow_caldav_server_times_out(http_base):
    with pytest.raises(CalendarUnreachable) as caught:
        caldav_from(f"{http_base}/slow", "alice", "x", *WINDOW, timeout=0.5)
    assert caught.value.kind == "timeout"


# -- parsing details no server is needed for -----------------------------------------
def test_floating_times_are_local_to_the_default_zone_and_rdates_expand():
    ics = vcalendar(vevent(
        "float@x", "DTSTART:20270312T090000", "DTEND:20270312T093000",
        "RDATE:20270315T090000,20270402T090000")).encode()
    assert [(b.start, b.end) for b in parse_busy(ics, *WINDOW, LA, None)] == [
        (utc(2027, 3, 12, 17), utc(2027, 3, 12, 17, 30)),
        (utc(2027, 3, 15, 16), utc(2027, 3, 15, 16, 30)),
    ]
    assert parse_busy(ics, *WINDOW, "Europe/Berlin", None)[0].start == utc(2027, 3, 12, 8)


def test_blocks_overlapping_the_window_edges_are_kept_whole():
    ics = vcalendar(vevent("edge@x", "DTSTART:20270228T230000Z", "DTEND:20270301T010000Z"),
                    vevent("touch@x", "DTSTART:20270401T000000Z", "DTEND:20270401T010000Z")).encode()
    assert [(b.uid, b.start) for b in parse_busy(ics, *WINDOW, LA, None)] == [
        ("edge@x", utc(2027, 2, 28, 23))
    ]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"this is not a calendar",
        vcalendar(vevent("bad@x", "DTSTART:2027-03-01", "DTEND:20270301T100000Z")).encode(),
        vcalendar(vevent("rule@x", "DTSTART:20270301T090000Z", "RRULE:FREQ=SOMETIMES")).encode(),
        # ~45,000 occurrences in the window: refused at the cap, not materialised
        vcalendar(vevent("storm@x", "DTSTART:20270301T000000Z", "DURATION:PT1M",
                         "RRULE:FREQ=MINUTELY")).encode(),
    ],
)
def test_bad_calendar_data_raises(data):
    with pytest.raises(CalendarDataError):
        parse_busy(data, *WINDOW, LA, None, max_occurrences=500)


def test_custom_tzid_follows_its_own_vtimezone_across_both_changes():
    custom = LA_VTIMEZONE.replace(f"TZID:{LA}", "TZID:Clinic Pacific Time")
    ics = vcalendar(custom, vevent(
        "custom@outlook", "DTSTART;TZID=Clinic Pacific Time:20270308T090000",
        "DTEND;TZID=Clinic Pacific Time:20270308T100000", "RRULE:FREQ=WEEKLY;INTERVAL=35;COUNT=2",
    )).encode()
    blocks = parse_busy(ics, utc(2027, 3, 1), utc(2027, 12, 1), "Europe/Berlin", None)
    # 2027-03-08 is PST; 35 weeks later, 2027-11-08, is PST again; none in between.
    assert [b.start for b in blocks] == [utc(2027, 3, 8, 17), utc(2027, 11, 8, 17)]
    ics = ics.replace(b"20270308T", b"20270315T")  # PDT, then 2027-11-15 PST
    blocks = parse_busy(ics, utc(2027, 3, 1), utc(2027, 12, 1), "Europe/Berlin", None)
    assert [b.start for b in blocks] == [utc(2027, 3, 15, 16), utc(2027, 11, 15, 17)]


# -- bounds: occurrences per sync, and the cost of expanding rules ---------------------------
def test_the_occurrence_bound_covers_every_object_of_a_calendar_together():
    def daily(uid):  # 31 occurrences in the padded March window
        return vcalendar(vevent(uid, "DTSTART:20270301T090000Z", "DURATION:PT1H",
                                "RRULE:FREQ=DAILY;COUNT=31")).encode()

    assert len(parse_busy_all([daily("a@x")], *WINDOW, LA, None, max_occurrences=40)) == 31
    with pytest.raises(TooManyOccurrences):
        parse_busy_all([daily("a@x"), daily("b@x")], *WINDOW, LA, None, max_occurrences=40)


@pytest.mark.parametrize("rule", ["FREQ=SECONDLY", "FREQ=MINUTELY", "FREQ=SECONDLY;BYHOUR=9;BYMINUTE=0",
                                  "FREQ=DAILY;BYHOUR=" + ",".join(map(str, range(24)))
                                  + ";BYMINUTE=" + ",".join(map(str, range(0, 60, 5))) + ";BYSECOND=0,15,30,45"])
def test_a_runaway_rule_is_refused_before_it_is_expanded(rule):
    ics = vcalendar(vevent("storm@x", "DTSTART:20270101T000000Z", "DURATION:PT1S", f"RRULE:{rule}")).encode()
    began = time.monotonic()
    with pytest.raises(TooManyOccurrences, match="steps to expand"):
        parse_busy(ics, *WINDOW, LA, None)
    assert time.monotonic() - began < 1  # unbounded, dateutil would spend minutes listing them


@given(freq=st.sampled_from(["DAILY", "HOURLY", "MINUTELY", "WEEKLY"]), interval=st.integers(1, 5),
       hours=st.lists(st.integers(0, 23), max_size=3, unique=True),
       minutes=st.lists(st.integers(0, 59), max_size=3, unique=True),
       days=st.lists(st.sampled_from(["MO", "TU", "WE", "TH", "FR", "SA", "SU"]), max_size=3, unique=True),
       lead=st.integers(0, 3 * 24 * 60), count=st.one_of(st.none(), st.integers(1, 50)))
@settings(max_examples=60, deadline=None)
def test_the_step_bound_is_never_below_what_dateutil_yields(freq, interval, hours, minutes, days, lead, count):
    """The oracle is dateutil itself: every occurrence from DTSTART to the window's end."""
    end = utc(2027, 3, 3)
    start = end - timedelta(minutes=lead)
    parts = [f"FREQ={freq}", f"INTERVAL={interval}"]
    parts += [f"BYHOUR={','.join(map(str, hours))}"] if hours else []
    parts += [f"BYMINUTE={','.join(map(str, minutes))}"] if minutes else []
    parts += [f"BYDAY={','.join(days)}"] if days else []
    parts += [f"COUNT={count}"] if count else []
    calendar = icalendar.Calendar.from_ical(vcalendar(vevent(
        "p@x", f"DTSTART:{start:%Y%m%dT%H%M%SZ}", "DURATION:PT1M", f"RRULE:{';'.join(parts)}")))
    try:
        actual = len(rrulestr(";".join(parts), dtstart=start).between(start, end, inc=True))
    except ValueError:  # e.g. INTERVAL=2 with only odd BYHOURs: no rule at all
        reject()
    assert expansion_steps(calendar, end) >= actual
