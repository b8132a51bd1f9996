"""The change feed (issue 5): every availability-affecting change, in order, with an
opaque cursor; paging visits each change exactly once, also under concurrent writes.

The clock stands at Tue 2030-01-01 08:00 Los Angeles; 2030-01-07 is a Monday.
"""
import datetime as dt
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from scheduler.extensions import db
from scheduler.models import Change
from scheduler.services.calendars import changes as change_feed
from scheduler.services.scheduling import availability, booking
from tests.support import clinic as c

UTC = dt.timezone.utc
DAY = "2030-01-07"


def booked(api, patient_id, start, loc, session_type="consultation", **extra):
    body = {"patient_id": patient_id, "session_type": session_type, "location_id": loc, "start": start, **extra}
    r = api.post("/appointments", json=body, as_="front_desk")
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def changes(api, as_="calendar", **params):
    r = api.get("/changes", as_=as_, query_string=params)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


def all_ids():
    db.session.rollback()
    return list(db.session.scalars(select(Change.id).order_by(Change.id)))


class _IcsServer:
    """A one-calendar ICS server on 127.0.0.1 (for a real sync, hence busy.updated)."""

    def __init__(self, body: bytes):
        outer = self
        self.body = body

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/calendar")
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/cal.ics"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


BUSY_ICS = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//test//changes//EN\r
BEGIN:VEVENT\r
UID:dentist@example\r
DTSTAMP:20291201T000000Z\r
DTSTART;TZID=America/Los_Angeles:20300110T100000\r
DTEND;TZID=America/Los_Angeles:20300110T110000\r
END:VEVENT\r
END:VCALENDAR\r
"""


@pytest.fixture
def clinic(app):
    loc = c.location()
    c.rooms(loc, "therapy", 2)
    c.rooms(loc, "treatment", 1)
    presc = c.provider("Dr. P", ["prescriber"], at=loc)
    nurse = c.provider("Nurse N", ["nurse"], at=loc)
    other_loc = c.location("Glendale")
    c.rooms(other_loc, "therapy", 1)
    other = c.provider("Dr. Other", ["prescriber"], at=other_loc)
    pats = [c.patient(loc, name=f"P{i}", phone=f"+1805555{200 + i:04d}").id for i in range(3)]
    c.commit()
    return dict(loc=loc.id, presc=presc.id, nurse=nurse.id, other_loc=other_loc.id, other=other.id, patients=pats)


def test_every_availability_change_appears_in_order(api, app, clinic, clock, allow_outbound):
    p1, p2, _ = clinic["patients"]
    loc, presc = clinic["loc"], clinic["presc"]
    expected = []  # (kind, entity_type, entity_id)

    a = booked(api, p1, c.local(DAY, "09:00"), loc, provider_id=presc)
    expected.append(("appointment.booked", "appointment", a["id"]))
    assert api.patch(f"/appointments/{a['id']}", json={"start": c.local(DAY, "10:00")},
                     as_="front_desk").status_code == 200
    expected.append(("appointment.moved", "appointment", a["id"]))
    # Notes only: not availability, not in the feed.
    assert api.patch(f"/appointments/{a['id']}", json={"notes": "bring a jacket"}, as_="front_desk").status_code == 200
    assert api.post(f"/appointments/{a['id']}/cancel", json={"reason": "ill"}, as_="front_desk").status_code == 200
    expected.append(("appointment.cancelled", "appointment", a["id"]))
    b = booked(api, p2, c.local(DAY, "11:00"), loc, provider_id=presc)
    expected.append(("appointment.booked", "appointment", b["id"]))
    clock.set(dt.datetime.fromisoformat(c.local(DAY, "11:30")).astimezone(UTC))
    assert api.post(f"/appointments/{b['id']}/no-show", as_="front_desk").status_code == 200
    expected.append(("appointment.noshow", "appointment", b["id"]))

    r = api.post(f"/providers/{presc}/time-off", as_="front_desk",
                 json={"start": c.local("2030-01-09", "12:00"), "end": c.local("2030-01-09", "13:00")})
    off = r.get_json()["id"]
    expected.append(("time_off.added", "time_off", off))
    assert api.delete(f"/providers/{presc}/time-off/{off}", as_="front_desk").status_code == 204
    expected.append(("time_off.removed", "time_off", off))
    r = api.post(f"/providers/{presc}/availability", as_="admin",
                 json={"location_id": clinic["other_loc"], "weekday": "mon", "start_time": "18:00",
                       "end_time": "20:00"})
    assert r.status_code == 201, r.get_data(as_text=True)
    rule = r.get_json()["id"]
    expected.append(("availability.rule_added", "availability_rule", rule))
    assert api.delete(f"/providers/{presc}/availability/{rule}", as_="admin").status_code == 204
    expected.append(("availability.rule_removed", "availability_rule", rule))

    with _IcsServer(BUSY_ICS) as ics:
        allow_outbound(ics.url)
        r = api.post(f"/providers/{presc}/external-calendars", as_="front_desk", json={"kind": "ics", "url": ics.url})
        assert r.status_code == 201, r.get_data(as_text=True)
        cal = r.get_json()["id"]
        r = api.post(f"/providers/{presc}/external-calendars/{cal}/sync", as_="front_desk")
        assert r.status_code == 200, r.get_data(as_text=True)
        assert r.get_json()["blocks"] == 1
    expected.append(("busy.updated", "external_calendar", cal))

    body = changes(api)
    got = [(ch["kind"], ch["entity_type"], ch["entity_id"]) for ch in body["changes"]]
    assert got == expected
    ids = [ch["id"] for ch in body["changes"]]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    by_kind = {ch["kind"]: ch for ch in body["changes"]}
    # Enough to sync incrementally: who, where, when.
    moved = by_kind["appointment.moved"]
    assert moved["provider_id"] == presc and moved["location_id"] == loc
    assert dt.datetime.fromisoformat(moved["start"]) == dt.datetime.fromisoformat(c.local(DAY, "10:00"))
    assert moved["data"]["previous"]["start"]
    assert by_kind["time_off.added"]["provider_id"] == presc
    assert by_kind["busy.updated"]["provider_id"] == presc and by_kind["busy.updated"]["data"]["blocks"] == 1
    # Any role reads it; filters narrow it.
    assert changes(api, as_="front_desk")["changes"] == body["changes"]
    assert api.get("/changes", as_=None).status_code == 401
    mine = changes(api, provider_id=presc)["changes"]
    assert [ch["id"] for ch in mine] == ids
    assert changes(api, provider_id=clinic["other"])["changes"] == []
    assert [ch["kind"] for ch in changes(api, location_id=clinic["other_loc"])["changes"]] == [
        "availability.rule_added", "availability.rule_removed"]


def test_paging_visits_every_change_once_and_the_cursor_is_stable(api, app, clinic):
    p1, p2, p3 = clinic["patients"]
    made = [booked(api, p, c.local(DAY, hm), clinic["loc"], provider_id=clinic["presc"])
            for p, hm in ((p1, "09:00"), (p2, "10:00"), (p3, "11:00"))]
    for appt in made[:2]:
        api.post(f"/appointments/{appt['id']}/cancel", json={"reason": "x"}, as_="front_desk")
    total = all_ids()
    assert len(total) == 5

    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2} | ({"since": cursor} if cursor else {})
        body = changes(api, **params)
        pages += 1
        assert len(body["changes"]) <= 2
        if not body["changes"]:
            assert body["next_cursor"] == cursor  # nothing new: the same cursor back
            break
        seen += [ch["id"] for ch in body["changes"]]
        assert body["next_cursor"] != cursor
        cursor = body["next_cursor"]
    assert seen == total
    assert pages == 4  # 2 + 2 + 1, then an empty page
    # Asking again and again with the last cursor changes nothing.
    for _ in range(3):
        again = changes(api, since=cursor, limit=2)
        assert again == {"changes": [], "next_cursor": cursor}
    # Something new: exactly that comes next, then the cursor is stable again.
    api.post(f"/appointments/{made[2]['id']}/cancel", json={"reason": "x"}, as_="front_desk")
    body = changes(api, since=cursor, limit=2)
    assert [ch["id"] for ch in body["changes"]] == all_ids()[-1:]
    assert changes(api, since=body["next_cursor"]) == {"changes": [], "next_cursor": body["next_cursor"]}
    # The cursor is opaque: not the bare id.
    assert not cursor.isdigit()


@pytest.mark.parametrize("since", ["garbage!!", "12", "aWQ6", "aWQ6LTE", "bm9wZToz", "%%%", "x" * 101])
def test_a_bad_cursor_is_a_422(api, app, since):
    r = api.get("/changes", as_="calendar", query_string={"since": since})
    assert r.status_code == 422, (since, r.get_data(as_text=True))
    assert "since" in r.get_json()["errors"]


@pytest.mark.parametrize("limit", [0, -1, 501, "x"])
def test_a_bad_limit_is_a_422(api, app, limit):
    assert api.get("/changes", as_="calendar", query_string={"limit": limit}).status_code == 422


# ---------------------------------------------------------------- concurrent writers
def _in_context(app, fn, errors):
    def run():
        with app.app_context():
            try:
                fn()
            except BaseException as exc:  # reported by the test
                errors.append(repr(exc))
                raise
            finally:
                db.session.remove()
    return threading.Thread(target=run, daemon=True)


def test_a_transaction_holding_an_earlier_id_is_never_overtaken(app, clinic, clock):
    """Forced interleaving: writer A records a change (its id is taken) and then sleeps
    inside its open transaction; writer B records and commits meanwhile. A reader that
    saw B's id first would page past A's and never see it. The real sleep (0.5 s) only
    widens the window; the order is checked, not the timing."""
    a_recorded, errors = threading.Event(), []
    ids, commits = {}, {}
    now = clock.now()

    def writer_a():
        from scheduler.database import begin_write

        begin_write()
        change_feed.record("time_off.added", "time_off", 1, now, provider_id=clinic["presc"])
        db.session.flush()
        ids["a"] = db.session.scalar(select(Change.id).order_by(Change.id.desc()).limit(1))
        a_recorded.set()
        time.sleep(0.5)  # hold the transaction (and the id) open
        db.session.commit()
        commits["a"] = time.monotonic()

    def writer_b():
        assert a_recorded.wait(10)
        started = time.monotonic()
        availability.add_time_off(clinic["other"], {"start_at": now + dt.timedelta(days=3),
                                             "end_at": now + dt.timedelta(days=3, hours=1)}, "b", now)
        commits["b"] = time.monotonic()
        commits["b_waited"] = commits["b"] - started

    seen, stop = [], threading.Event()

    def reader():
        since = 0
        while not stop.is_set():
            page = change_feed.page(since, 100).items
            db.session.rollback()
            for row in page:
                seen.append(row.id)
            if page:
                since = page[-1].id
        for row in change_feed.page(since, 100).items:  # the last look, after both committed
            seen.append(row.id)

    threads = [_in_context(app, f, errors) for f in (reader, writer_a, writer_b)]
    for t in threads:
        t.start()
    for t in threads[1:]:
        t.join(30)
    stop.set()
    threads[0].join(30)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)
    final = all_ids()
    assert len(final) == 2
    assert seen == final, (seen, final)
    assert final[0] == ids["a"]  # A took its id first ...
    assert commits["b"] >= commits["a"]  # ... so B could not commit (a later id) before A did
    assert commits["b_waited"] > 0.2


def test_paging_under_concurrent_bookings_sees_every_id_once(app, clinic, clock, monkeypatch):
    """One thread books and cancels over and over, each change held open a little before
    its commit (so ids are taken well before they commit); another adds and removes time
    off at another clinic; a third pages the feed continuously with limit=3. In the end the
    reader has seen exactly every change id, in order: no gaps, no repeats."""
    rounds, errors = 12, []
    now = clock.now()
    original = change_feed.record
    slow = threading.local()

    def record_then_linger(*args, **kwargs):
        original(*args, **kwargs)
        if getattr(slow, "on", False):
            db.session.flush()  # the row (and its id) exists now, uncommitted
            time.sleep(0.03)

    monkeypatch.setattr(change_feed, "record", record_then_linger)
    p1 = clinic["patients"][0]

    def booker():
        slow.on = True
        for i in range(rounds):
            req = booking.BookingRequest(patient_id=p1, session_type="consultation", location_id=clinic["loc"],
                                         start=dt.datetime.fromisoformat(c.local(DAY, "09:00")).astimezone(UTC),
                                         provider_id=clinic["presc"])
            appt, _ = booking.book(req, "booker", now)
            booking.transition(appt.id, "cancel", "booker", now, reason=f"round {i}")

    def time_off_clerk():
        for i in range(rounds):
            entry = availability.add_time_off(clinic["other"], {"start_at": now + dt.timedelta(days=2, hours=i),
                                                         "end_at": now + dt.timedelta(days=2, hours=i + 1)},
                                       "clerk", now)
            availability.remove_time_off(clinic["other"], entry.id, "clerk", now)

    seen, stop = [], threading.Event()

    def reader():
        since = 0
        while True:
            done = stop.is_set()  # read once more after the writers finished
            while True:
                page = change_feed.page(since, 3).items
                db.session.rollback()
                seen.extend(row.id for row in page)
                if not page:
                    break
                since = page[-1].id
            if done:
                return

    readers = [_in_context(app, reader, errors)]
    writers = [_in_context(app, f, errors) for f in (booker, time_off_clerk)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join(120)
    stop.set()
    readers[0].join(30)
    assert not errors, errors
    assert not any(t.is_alive() for t in readers + writers)
    final = all_ids()
    assert len(final) == 4 * rounds
    assert len(seen) == len(set(seen)), "a change was seen twice"
    assert seen == final, f"missed: {sorted(set(final) - set(seen))}"
    kinds = list(db.session.scalars(select(Change.kind).order_by(Change.id)))
    assert kinds.count("appointment.booked") == rounds and kinds.count("time_off.added") == rounds
