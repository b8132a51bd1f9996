"""Busy time in (issue 5), end to end: a real Radicale (CalDAV) and a local ICS server,
linked through the API, synced by the API and by the worker job, checked through
GET /slots. Adapter-level parsing is in test_busy_import.py; here it is the whole path:
link -> fetch -> expand -> busy blocks -> slots, conflicts, errors, leases.

The clock is set to Mon 2027-03-01 08:00 Los Angeles, so the 90-day sync horizon reaches
the 2027-03-14 DST change.
"""
import datetime as dt
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from scheduler.adapters import busy_import
from scheduler.extensions import db
from scheduler.jobs.calendars import calendar_sync_job
from scheduler.models import BusyBlock, ExternalCalendar
from scheduler.services.calendars import external_calendars as calendar_sync
from tests.support import clinic as c
from tests.support.radicale_server import RadicaleServer

pytestmark = pytest.mark.slow

UTC = dt.timezone.utc
LA = ZoneInfo("America/Los_Angeles")
NOW = dt.datetime(2027, 3, 1, 16, tzinfo=UTC)  # Mon 08:00 PST
WINDOW = ("2027-03-02", "2027-04-01")  # the slot search: 30 local days
PASSWORD = "pw-Zq8-never-shown"
TZ = "TZID=America/Los_Angeles"


# ---------------------------------------------------------------- iCalendar text
def vcalendar(*events: str) -> str:
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//sync//EN\r\n"
            + "".join(e.strip() + "\r\n" for e in events) + "END:VCALENDAR\r\n")


def vevent(uid: str, *lines: str) -> str:
    return "\r\n".join(["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20270101T000000Z", *lines, "END:VEVENT"])


def local(day: str, hm: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hm}").replace(tzinfo=LA)


VEVENTS = {
    "single": [vevent("single@gmail", f"DTSTART;{TZ}:20270303T100000", f"DTEND;{TZ}:20270303T110000",
                      "SUMMARY:Dentist")],
    # Mondays 12:00 from 3/8 (PST) to 3/29 (PDT): 3/15 excluded, 3/22 moved to Tue 3/23 14:00.
    "weekly": [
        vevent("weekly@gmail", f"DTSTART;{TZ}:20270308T120000", f"DTEND;{TZ}:20270308T130000",
               "RRULE:FREQ=WEEKLY;COUNT=4", f"EXDATE;{TZ}:20270315T120000", "SUMMARY:Lunch"),
        vevent("weekly@gmail", f"RECURRENCE-ID;{TZ}:20270322T120000",
               f"DTSTART;{TZ}:20270323T140000", f"DTEND;{TZ}:20270323T150000", "SUMMARY:Lunch moved")],
    "all-day": [vevent("allday@gmail", "DTSTART;VALUE=DATE:20270310", "DTEND;VALUE=DATE:20270311",
                       "SUMMARY:Conference")],
    "transparent": [vevent("free@gmail", f"DTSTART;{TZ}:20270304T090000", f"DTEND;{TZ}:20270304T170000",
                           "TRANSP:TRANSPARENT", "SUMMARY:Working from home")],
    "cancelled": [vevent("cancelled@gmail", f"DTSTART;{TZ}:20270305T090000",
                         f"DTEND;{TZ}:20270305T100000", "STATUS:CANCELLED")],
    # 15:00 local every day from Fri 3/12 (PST) to Mon 3/15 (PDT): the DST change inside.
    "daily-across-dst": [vevent("daily@gmail", f"DTSTART;{TZ}:20270312T150000",
                                f"DTEND;{TZ}:20270312T160000", "RRULE:FREQ=DAILY;COUNT=4")],
    # One event spanning the change itself: Sat 20:00 PST to Sun 09:00 PDT.
    "overnight-dst": [vevent("overnight@gmail", f"DTSTART;{TZ}:20270313T200000",
                             f"DTEND;{TZ}:20270314T090000")],
    # Our own feed's event, subscribed to by the provider: never imported back.
    "own-export": [vevent("appointment-999@clinic-scheduler", f"DTSTART;{TZ}:20270309T100000",
                          f"DTEND;{TZ}:20270309T110000", "SUMMARY:Psychiatric evaluation")],
}
EVENTS = {name: vcalendar(*events) for name, events in VEVENTS.items()}
BUSY = {  # what each event must block (local times)
    "single": [(local("2027-03-03", "10:00"), local("2027-03-03", "11:00"))],
    "weekly": [(local("2027-03-08", "12:00"), local("2027-03-08", "13:00")),
               (local("2027-03-23", "14:00"), local("2027-03-23", "15:00")),
               (local("2027-03-29", "12:00"), local("2027-03-29", "13:00"))],
    "all-day": [(local("2027-03-10", "00:00"), local("2027-03-11", "00:00"))],
    "transparent": [], "cancelled": [], "own-export": [],
    "daily-across-dst": [(local(f"2027-03-{d}", "15:00"), local(f"2027-03-{d}", "16:00")) for d in (12, 13, 14, 15)],
    "overnight-dst": [(local("2027-03-13", "20:00"), local("2027-03-14", "09:00"))],
}


def expected_starts(busy, extra_days=()):
    """Consultation (60 min) starts every 15 min, 08:00-16:00 local each day, that overlap
    no busy interval: what GET /slots must answer for the lone prescriber."""
    out = []
    day = dt.date.fromisoformat(WINDOW[0])
    while day < dt.date.fromisoformat(WINDOW[1]):
        for minutes in range(8 * 60, 16 * 60 + 1, 15):
            start = dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), LA)
            end = start + dt.timedelta(minutes=60)
            if not any(start < b and end > a for a, b in busy):
                out.append(start.astimezone(UTC))
        day += dt.timedelta(days=1)
    return out


# ---------------------------------------------------------------- servers and fixtures
class IcsServer:
    """Serves one calendar with an ETag, answering 304 to a matching If-None-Match."""

    def __init__(self, body: str, etag='"v1"'):
        self.body, self.etag, self.status = body.encode(), etag, 200
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(dict(self.headers))
                if outer.status != 200:
                    self.send_response(outer.status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.headers.get("If-None-Match") == outer.etag:
                    self.send_response(304)
                    self.send_header("ETag", outer.etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/calendar")
                self.send_header("ETag", outer.etag)
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/private/basic.ics"

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def radicale(tmp_path, allow_outbound):
    server = RadicaleServer(tmp_path / "radicale")
    server.start()
    allow_outbound(server.url)
    yield server
    server.close()


@pytest.fixture
def ics_server(allow_outbound):
    servers = []

    def make(body, etag='"v1"'):
        servers.append(IcsServer(body, etag))
        allow_outbound(servers[-1].url)
        return servers[-1]

    yield make
    for s in servers:
        s.close()


@pytest.fixture
def world(app, clock):
    clock.set(NOW)
    loc = c.location()
    (room,) = c.rooms(loc, "therapy", 1)
    presc = c.provider("Dr. P", ["prescriber"], at=loc)
    other = c.provider("Dr. Q", ["prescriber"])  # works nowhere: only a second calendar owner
    pats = [c.patient(loc, name=f"P{i}", phone=f"+1805555{400 + i:04d}").id for i in range(3)]
    c.commit()
    return SimpleNamespace(loc=loc.id, room=room.id, presc=presc.id, other=other.id, patients=pats)


def slot_starts(api, w):
    r = api.get("/slots", as_="calendar", query_string={
        "location_id": w.loc, "session_type": "consultation", "provider_id": w.presc,
        "start": local(WINDOW[0], "00:00").isoformat(), "end": local(WINDOW[1], "00:00").isoformat()})
    assert r.status_code == 200, r.get_data(as_text=True)
    return [dt.datetime.fromisoformat(s["start"]).astimezone(UTC) for s in r.get_json()["slots"]]


def link(api, provider_id, **body):
    r = api.post(f"/providers/{provider_id}/external-calendars", as_="front_desk", json=body)
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def link_caldav(api, w, radicale, cal_id, provider_id=None):
    radicale.make_calendar("alice", cal_id)
    return link(api, provider_id or w.presc, kind="caldav", url=radicale.calendar_url("alice", cal_id),
                username="alice", password=PASSWORD)


def sync(api, provider_id, cal_id):
    return api.post(f"/providers/{provider_id}/external-calendars/{cal_id}/sync", as_="front_desk")


def synced(api, provider_id, cal_id):
    r = sync(api, provider_id, cal_id)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


def blocks_of(cal_id):
    db.session.rollback()
    return [(b.id, b.start_at, b.end_at) for b in db.session.scalars(
        select(BusyBlock).where(BusyBlock.calendar_id == cal_id).order_by(BusyBlock.start_at))]


def calendar_state(api, provider_id, cal_id):
    r = api.get(f"/providers/{provider_id}/external-calendars", as_="front_desk")
    assert r.status_code == 200
    (row,) = [x for x in r.get_json()["items"] if x["id"] == cal_id]
    return row


def readyz(api):
    return api.get("/readyz", as_=None).get_json()


def all_busy(*names):
    return [b for n in names for b in BUSY[n]]


# ---------------------------------------------------------------- CalDAV
def test_caldav_events_block_exactly_the_right_slots(api, app, world, radicale):
    baseline = slot_starts(api, world)
    assert baseline == expected_starts([])  # 33 starts a day before any import
    cal = link_caldav(api, world, radicale, "busy")
    assert cal["kind"] == "caldav" and cal["username"] == "alice"
    assert "password" not in cal and PASSWORD not in str(cal)
    calendar = radicale.client("alice").calendar(url=radicale.calendar_url("alice", "busy"))
    for ics in EVENTS.values():
        radicale.put_event(calendar, ics)

    result = synced(api, world.presc, cal["id"])
    assert result == {"calendar_id": cal["id"], "blocks": 10, "not_modified": False, "conflicts": []}
    everything = all_busy(*EVENTS)
    stored_rows = blocks_of(cal["id"])
    # Nothing changed in Radicale (same sync token): nothing re-read, nothing replaced.
    again = synced(api, world.presc, cal["id"])
    assert again["not_modified"] is True and again["conflicts"] == []
    assert blocks_of(cal["id"]) == stored_rows
    got = slot_starts(api, world)
    assert got == expected_starts(everything)
    # Spot checks that the expectation means what it says.
    assert local("2027-03-15", "16:00").astimezone(UTC) in got  # after the PDT 15:00-16:00 block
    assert local("2027-03-15", "15:00").astimezone(UTC) not in got
    assert local("2027-03-15", "12:00").astimezone(UTC) in got  # EXDATE
    assert local("2027-03-22", "12:00").astimezone(UTC) in got  # the moved instance left Monday
    assert local("2027-03-23", "14:00").astimezone(UTC) not in got  # ... for Tuesday
    assert local("2027-03-29", "12:00").astimezone(UTC) not in got  # PDT weekly, still 12:00 local
    assert local("2027-03-14", "08:00").astimezone(UTC) not in got
    assert local("2027-03-14", "09:00").astimezone(UTC) in got
    assert not [s for s in got if s.astimezone(LA).date() == dt.date(2027, 3, 10)]
    assert local("2027-03-04", "09:00").astimezone(UTC) in got  # transparent
    assert local("2027-03-05", "09:00").astimezone(UTC) in got  # cancelled
    assert local("2027-03-09", "10:00").astimezone(UTC) in got  # our own exported event
    # Stored as UTC blocks, one per merged interval.
    stored = [(a, b) for _, a, b in blocks_of(cal["id"])]
    assert stored == sorted((a.astimezone(UTC), b.astimezone(UTC)) for a, b in everything)
    # The provider's free/busy shows them as external busy time.
    r = api.get(f"/providers/{world.presc}/busy", as_="calendar", query_string={
        "start": local("2027-03-15", "00:00").isoformat(), "end": local("2027-03-16", "00:00").isoformat()})
    assert [(dt.datetime.fromisoformat(b["start"]), b["source"]) for b in r.get_json()["busy"]] == [
        (local("2027-03-15", "15:00"), "external")]

    # The password is never returned, by any GET.
    for path in (f"/providers/{world.presc}/external-calendars", f"/providers/{world.presc}",
                 f"/providers/{world.presc}/external-calendars?limit=100"):
        text = api.get(path, as_="admin").get_data(as_text=True)
        assert PASSWORD not in text and "password" not in text, path
    assert PASSWORD not in str(db.session.scalar(select(ExternalCalendar.password_sealed)))  # sealed at rest

    # Delete the single event in Radicale: after the next sync its slots are back.
    radicale.delete_event(calendar, "single@gmail")
    assert synced(api, world.presc, cal["id"])["blocks"] == 9
    assert slot_starts(api, world) == expected_starts(all_busy(*(n for n in EVENTS if n != "single")))
    # The change feed carries each sync.
    kinds = [ch["kind"] for ch in api.get("/changes", as_="calendar").get_json()["changes"]]
    assert kinds.count("busy.updated") == 2


def test_an_appointment_overlapped_by_imported_time_is_flagged_never_cancelled(api, app, world, radicale):
    r = api.post("/appointments", as_="front_desk", json={
        "patient_id": world.patients[0], "session_type": "consultation", "location_id": world.loc,
        "start": local("2027-03-17", "10:00").isoformat(), "provider_id": world.presc})
    assert r.status_code == 201, r.get_data(as_text=True)
    appt = r.get_json()
    assert appt["conflict"] is False
    cal = link_caldav(api, world, radicale, "busy")
    calendar = radicale.client("alice").calendar(url=radicale.calendar_url("alice", "busy"))
    radicale.put_event(calendar, vcalendar(vevent("clash@gmail", f"DTSTART;{TZ}:20270317T093000",
                                                  f"DTEND;{TZ}:20270317T103000")))

    assert synced(api, world.presc, cal["id"])["conflicts"] == [appt["id"]]
    response = api.get(f"/appointments/{appt['id']}", as_="front_desk")
    got = response.get_json()
    assert [f["code"] for f in got["flags"]] == ["external_busy"]
    assert got["conflict"] is True and got["conflict_reason"] == got["flags"][0]["message"]
    assert got["status"] == "booked" and got["version"] == appt["version"]
    flagged_etag = response.headers["ETag"]
    listed = api.get(f"/appointments?flagged=true&location_id={world.loc}", as_="front_desk")
    assert [a["id"] for a in listed.get_json()["items"]] == [appt["id"]]
    changes = api.get("/changes", as_="calendar").get_json()["changes"]
    flagged = [ch for ch in changes if ch["kind"] == "appointment.flagged"]
    assert [(ch["entity_id"], ch["data"]["code"]) for ch in flagged] == [(appt["id"], "external_busy")]
    assert [ch["kind"] for ch in changes][-2:] == ["busy.updated", "appointment.flagged"]
    # Synced again, nothing new: not flagged a second time.
    assert synced(api, world.presc, cal["id"])["conflicts"] == []
    changes = api.get("/changes", as_="calendar").get_json()["changes"]
    assert [ch["kind"] for ch in changes].count("appointment.flagged") == 1

    # The event goes away: the flag is lifted; the appointment was never touched otherwise.
    radicale.delete_event(calendar, "clash@gmail")
    synced(api, world.presc, cal["id"])
    response = api.get(f"/appointments/{appt['id']}", as_="front_desk")
    got = response.get_json()
    assert got["flags"] == [] and got["conflict"] is False and got["status"] == "booked"
    assert got["start"] == appt["start"]
    assert response.headers["ETag"] != flagged_etag
    kinds = [ch["kind"] for ch in api.get("/changes", as_="calendar").get_json()["changes"]]
    assert kinds[-1] == "appointment.unflagged"


def test_radicale_stopped_mid_sync_keeps_the_old_blocks_and_records_the_error(api, app, world, radicale,
                                                                              ics_server, clock, monkeypatch):
    cal = link_caldav(api, world, radicale, "busy")
    calendar = radicale.client("alice").calendar(url=radicale.calendar_url("alice", "busy"))
    for name in ("single", "weekly"):
        radicale.put_event(calendar, EVENTS[name])
    assert synced(api, world.presc, cal["id"])["blocks"] == 4
    before_blocks = blocks_of(cal["id"])
    before_slots = slot_starts(api, world)
    assert before_slots == expected_starts(all_busy("single", "weekly"))
    assert readyz(api)["checks"]["calendars"] == "ok"
    radicale.put_event(calendar, EVENTS["all-day"])  # would change the blocks, if it were read

    # Stop Radicale after the calendar was found and before its events are read.
    real = busy_import._calendars_at

    def found_then_stop(*args, **kwargs):
        calendars = real(*args, **kwargs)
        radicale.stop()
        return calendars

    monkeypatch.setattr(busy_import, "_calendars_at", found_then_stop)
    r = sync(api, world.presc, cal["id"])
    assert r.status_code == 502, r.get_data(as_text=True)
    assert r.get_json()["code"] == "calendar_unreachable"
    assert "kept" in r.get_json()["message"]
    monkeypatch.setattr(busy_import, "_calendars_at", real)
    assert radicale.process is None

    assert blocks_of(cal["id"]) == before_blocks  # the very same rows
    assert slot_starts(api, world) == before_slots
    state = calendar_state(api, world.presc, cal["id"])
    assert state["last_error"] and state["failures"] == 1
    assert "connect" in state["last_error"]
    assert api.get(f"/providers/{world.presc}").get_json()["calendars_failing"] == 1
    report = readyz(api)
    assert report["checks"]["calendars"] == "1 failing" and report["status"] == "degraded"

    # Stopped for good: the same through a plain sync.
    r = sync(api, world.presc, cal["id"])
    assert r.status_code == 502 and r.get_json()["code"] == "calendar_unreachable"
    assert blocks_of(cal["id"]) == before_blocks

    # The worker job: the broken calendar is recorded and skipped, another one syncs.
    ics = ics_server(EVENTS["single"])
    other = link(api, world.other, kind="ics", url=ics.url)
    garbage = link(api, world.other, kind="ics", url=ics_server("this is not a calendar").url)
    clock.advance(hours=2)  # past the failing calendar's back-off
    done = calendar_sync_job()  # must not raise
    assert done == 3
    db.session.rollback()
    assert "iCalendar" in calendar_state(api, world.other, garbage["id"])["last_error"]
    api.delete(f"/providers/{world.other}/external-calendars/{garbage['id']}", as_="front_desk")
    assert calendar_state(api, world.other, other["id"])["last_synced_at"] is not None
    assert calendar_state(api, world.other, other["id"])["last_error"] is None
    assert len(blocks_of(other["id"])) == 1
    state = calendar_state(api, world.presc, cal["id"])
    assert state["failures"] == 3 and state["last_error"]
    assert blocks_of(cal["id"]) == before_blocks
    # Backed off: not retried at once.
    assert calendar_sync_job() == 0
    failing = db.session.get(ExternalCalendar, cal["id"])
    assert failing.next_sync_at > clock.now()

    # Radicale back: the next due run heals it, reads the new event, readyz is ok again.
    radicale.start()
    clock.advance(hours=2)
    assert calendar_sync_job() == 2
    state = calendar_state(api, world.presc, cal["id"])
    assert state["last_error"] is None and state["failures"] == 0
    assert slot_starts(api, world) == expected_starts(all_busy("single", "weekly", "all-day"))
    assert readyz(api)["checks"]["calendars"] == "ok"


# ---------------------------------------------------------------- ICS URL
def test_ics_url_conditional_get_and_errors(api, app, world, ics_server):
    ics = ics_server(vcalendar(*VEVENTS["single"], vevent("ics-only@x", f"DTSTART;{TZ}:20270305T090000",
                                                          f"DTEND;{TZ}:20270305T100000")))
    r = api.post(f"/providers/{world.presc}/external-calendars", as_="front_desk",
                 json={"kind": "ics", "url": ics.url, "username": "u", "password": "p"})
    assert r.status_code == 422  # an ICS URL takes no credentials
    cal = link(api, world.presc, kind="ics", url=ics.url)

    assert synced(api, world.presc, cal["id"]) == {"calendar_id": cal["id"], "blocks": 2, "not_modified": False,
                                                   "conflicts": []}
    assert "If-None-Match" not in ics.requests[0]
    first = blocks_of(cal["id"])
    busy = [(local("2027-03-03", "10:00"), local("2027-03-03", "11:00")),
            (local("2027-03-05", "09:00"), local("2027-03-05", "10:00"))]
    assert slot_starts(api, world) == expected_starts(busy)

    # Unchanged: a 304, blocks untouched (the same rows), no busy.updated change.
    changes_before = api.get("/changes", as_="calendar").get_json()["changes"]
    result = synced(api, world.presc, cal["id"])
    assert result["not_modified"] is True
    assert ics.requests[-1].get("If-None-Match") == '"v1"'
    assert blocks_of(cal["id"]) == first
    assert api.get("/changes", as_="calendar").get_json()["changes"] == changes_before

    # Changed upstream: a new ETag, new blocks.
    ics.body, ics.etag = EVENTS["single"].encode(), '"v2"'
    assert synced(api, world.presc, cal["id"])["blocks"] == 1
    assert slot_starts(api, world) == expected_starts(busy[:1])
    kept = blocks_of(cal["id"])

    # The server fails: 502 calendar_unreachable, blocks kept, error recorded.
    ics.status = 500
    r = sync(api, world.presc, cal["id"])
    assert r.status_code == 502, r.get_data(as_text=True)
    assert r.get_json()["code"] == "calendar_unreachable"
    assert blocks_of(cal["id"]) == kept
    state = calendar_state(api, world.presc, cal["id"])
    assert "500" in state["last_error"] and state["failures"] == 1
    # Back: healed.
    ics.status = 200
    synced(api, world.presc, cal["id"])
    assert calendar_state(api, world.presc, cal["id"])["last_error"] is None


# ---------------------------------------------------------------- two workers
def test_two_workers_never_claim_the_same_calendar_while_the_lease_holds(api, app, world, clock,
                                                                        allow_outbound):
    allow_outbound("http://127.0.0.1:9")
    ids = [link(api, world.presc, kind="ics", url=f"http://127.0.0.1:9/{i}.ics")["id"] for i in range(6)]
    now = clock.now()
    claimed = {"a": [], "b": []}
    errors = []
    barrier = threading.Barrier(2, timeout=30)

    def worker(owner):
        with app.app_context():
            try:
                barrier.wait()
                while (cal_id := calendar_sync.claim_due(now, owner)) is not None:
                    claimed[owner].append(cal_id)
            except Exception as exc:
                errors.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(o,), daemon=True) for o in claimed]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    both = claimed["a"] + claimed["b"]
    assert sorted(both) == sorted(ids), claimed  # every calendar once, none twice
    assert not set(claimed["a"]) & set(claimed["b"])

    # While the leases hold, nobody gets any of them again.
    assert calendar_sync.claim_due(now + dt.timedelta(minutes=1), "c") is None
    assert calendar_sync.claim_due(now + calendar_sync.LEASE - dt.timedelta(seconds=1), "a") is None
    # A lease that expired (a worker died) can be taken over.
    later = now + calendar_sync.LEASE + dt.timedelta(seconds=1)
    first, second = calendar_sync.claim_due(later, "c"), calendar_sync.claim_due(later, "d")
    assert first is not None and second is not None and first != second
    db.session.rollback()
    owners = {cal.id: cal.lease_owner for cal in db.session.scalars(select(ExternalCalendar))}
    assert owners[first] == "c" and owners[second] == "d"
