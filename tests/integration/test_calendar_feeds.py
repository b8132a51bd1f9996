"""iCalendar feeds out and free/busy (issue 5), through the API.

Feeds are parsed back with two independent parsers, icalendar and vobject: one VEVENT per
appointment, stable UIDs, SEQUENCE rising on a move, cancelled sessions kept as
CANCELLED, the location's VTIMEZONE and local times right across both 2027 DST changes,
patient names only when the location turns them on, time off in the provider feed,
ETag / If-None-Match, and tokens that fail closed with a 404 that says nothing.

The clock stands at Tue 2030-01-01 08:00 Los Angeles; 2030-01-07 is a Monday.
"""
import datetime as dt
import time
from types import SimpleNamespace
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import icalendar
import pytest
from tests.support.ical import vobject_read
from sqlalchemy import insert, select

from scheduler.adapters import ical_feed
from scheduler.extensions import db
from scheduler.models import Appointment, BusyBlock, ExternalCalendar, SessionType
from tests.support import clinic as c

UTC = dt.timezone.utc
LA = ZoneInfo("America/Los_Angeles")
DAY = "2030-01-07"


# ---------------------------------------------------------------- helpers
def instant(day, hm):
    return dt.datetime.fromisoformat(c.local(day, hm)).astimezone(UTC)


def booked(api, patient_id, start, session_type="consultation", loc=None, **extra):
    body = {"patient_id": patient_id, "session_type": session_type, "location_id": loc, "start": start, **extra}
    r = api.post("/appointments", json=body, as_="front_desk")
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def token_for(api, **subject):
    r = api.post("/calendar-tokens", json=subject, as_="admin")
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def feed_path(token_body):
    """The feed address the API handed out, as a path for the test client."""
    url = urlparse(token_body["url"])
    return f"{url.path}?{url.query}"


def fetch(api, path, headers=None):
    return api.get(path, as_=None, headers=headers)


def parse(body: bytes):
    """(icalendar VEVENTs by UID, vobject VEVENTs by UID, the icalendar calendar)."""
    cal = icalendar.Calendar.from_ical(body)
    ical_events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    assert len(ical_events) == len(cal.walk("VEVENT")), "a UID repeats"
    vcal = vobject_read(body)
    v_events = {e.uid.value: e for e in getattr(vcal, "vevent_list", [])}
    assert set(v_events) == set(ical_events)
    return ical_events, v_events, cal


def uid(appt_id):
    return f"appointment-{appt_id}@clinic-scheduler"


@pytest.fixture
def clinic(app):
    """Pasadena (LA), two treatment and two therapy rooms; a prescriber, a nurse and a
    therapist 08:00-17:00 every day; a second prescriber at Glendale; three patients."""
    loc = c.location()
    treatment = c.rooms(loc, "treatment", 2)
    therapy = c.rooms(loc, "therapy", 2)
    presc = c.provider("Dr. P", ["prescriber"], at=loc)
    nurse = c.provider("Nurse N", ["nurse"], at=loc)
    therapist = c.provider("T. Therapist", ["therapist"], at=loc)
    other_loc = c.location("Glendale")
    c.rooms(other_loc, "therapy", 1)
    other = c.provider("Dr. Other", ["prescriber"], at=other_loc)
    pats = [c.patient(loc, name=name, phone=f"+1805555{100 + i:04d}")
            for i, name in enumerate(["Alice Zephyrine", "Bob Quillfeather", "Cora Vantablack"])]
    c.commit()
    return SimpleNamespace(loc=loc.id, other_loc=other_loc.id, treatment=[r.id for r in treatment],
                           therapy=[r.id for r in therapy], presc=presc.id, nurse=nurse.id,
                           therapist=therapist.id, other=other.id, patients=[p.id for p in pats],
                           names=[p.name for p in pats])


# ---------------------------------------------------------------- tokens
def test_tokens_are_issued_by_admins_only_for_each_kind_of_feed(api, clinic):
    for role in ("front_desk", "calendar"):
        r = api.post("/calendar-tokens", json={"provider_id": clinic.presc}, as_=role)
        assert r.status_code == 403, (role, r.get_data(as_text=True))
    assert api.post("/calendar-tokens", json={"provider_id": clinic.presc}, as_=None).status_code == 401

    made = {}
    for subject, subject_id, path in (("provider_id", clinic.presc, "providers"),
                                      ("room_id", clinic.treatment[0], "rooms"),
                                      ("location_id", clinic.loc, "locations")):
        body = token_for(api, **{subject: subject_id})
        assert body[subject] == subject_id
        assert len(body["token"]) >= 22  # at least 128 random bits, url-safe base64
        assert urlparse(body["url"]).path == f"/calendar/{path}/{subject_id}.ics"
        assert f"token={body['token']}" in body["url"]
        r = fetch(api, feed_path(body))
        assert r.status_code == 200, (subject, r.get_data(as_text=True))
        assert r.mimetype == "text/calendar"
        made[subject] = body

    # Exactly one subject per token; unknown subjects are refused.
    assert api.post("/calendar-tokens", json={"provider_id": clinic.presc, "room_id": clinic.treatment[0]},
                    as_="admin").status_code == 422
    assert api.post("/calendar-tokens", json={}, as_="admin").status_code == 422
    assert api.post("/calendar-tokens", json={"provider_id": 9999}, as_="admin").status_code in (404, 422)

    # The listing never shows a token again.
    listing = api.get("/calendar-tokens", as_="admin")
    assert listing.status_code == 200
    text = listing.get_data(as_text=True)
    assert len(listing.get_json()["items"]) == 3
    for body in made.values():
        assert body["token"] not in text
    assert api.get("/calendar-tokens", as_="front_desk").status_code == 403


def test_wrong_revoked_and_foreign_tokens_get_the_same_bare_404(api, clinic):
    mine = token_for(api, provider_id=clinic.presc)
    room = token_for(api, room_id=clinic.treatment[0])
    token = mine["token"]
    assert fetch(api, feed_path(mine)).status_code == 200

    missing_feed = fetch(api, f"/calendar/providers/99999.ics?token={token}")
    assert missing_feed.status_code == 404
    reference = missing_feed.get_data()
    assert b"token" not in reference.lower() and b"revoked" not in reference.lower()

    # A provider token on the room (and location) feed with the same id, or on another
    # provider's feed; a wrong token; no token; a room token on a provider feed.
    same_id_paths = [f"/calendar/rooms/{clinic.presc}.ics?token={token}",
                     f"/calendar/locations/{clinic.presc}.ics?token={token}",
                     f"/calendar/providers/{clinic.other}.ics?token={token}",
                     f"/calendar/providers/{clinic.presc}.ics?token={token[:-2]}xx",
                     f"/calendar/providers/{clinic.presc}.ics?token=",
                     f"/calendar/providers/{clinic.presc}.ics",
                     f"/calendar/providers/{clinic.treatment[0]}.ics?token={room['token']}",
                     f"/calendar/providers/{clinic.presc}.ics?token={'a' * 500}"]
    for path in same_id_paths:
        r = fetch(api, path)
        assert r.status_code == 404, path
        assert r.get_data() == reference, path
        assert "ETag" not in r.headers
    # Staff API keys do not open a feed either: only the feed's token does.
    r = api.get(f"/calendar/providers/{clinic.presc}.ics", as_="admin")
    assert r.status_code == 404

    # Revoked: the same bare 404, and revoking twice is harmless.
    assert api.delete(f"/calendar-tokens/{mine['id']}", as_="front_desk").status_code == 403
    assert api.delete(f"/calendar-tokens/{mine['id']}", as_="admin").status_code == 204
    r = fetch(api, feed_path(mine))
    assert r.status_code == 404
    assert r.get_data() == reference
    assert api.delete(f"/calendar-tokens/{mine['id']}", as_="admin").status_code == 204
    assert api.delete("/calendar-tokens/99999", as_="admin").status_code == 404
    # Other tokens live on.
    assert fetch(api, feed_path(room)).status_code == 200


# ---------------------------------------------------------------- the feed's content
def test_feed_has_one_event_per_appointment_with_stable_uids_sequence_and_cancellations(api, clinic):
    p1, p2, p3 = clinic.patients
    a = booked(api, p1, c.local(DAY, "09:00"), provider_id=clinic.presc, loc=clinic.loc)
    b = booked(api, p2, c.local(DAY, "11:00"), provider_id=clinic.presc, loc=clinic.loc)
    d = booked(api, p3, c.local(DAY, "13:00"), "ketamine_iv", loc=clinic.loc, provider_id=clinic.presc)
    elsewhere = booked(api, p3, c.local("2030-01-08", "10:00"), loc=clinic.other_loc, provider_id=clinic.other)
    path = feed_path(token_for(api, provider_id=clinic.presc))

    first = fetch(api, path)
    assert first.status_code == 200
    events, v_events, cal = parse(first.data)
    assert set(events) == {uid(a["id"]), uid(b["id"]), uid(d["id"])}  # not the other provider's
    assert uid(elsewhere["id"]) not in events
    assert str(cal["VERSION"]) == "2.0" and cal.get("PRODID")
    # The location's VTIMEZONE, and DTSTART/DTEND in it.
    tzids = [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")]
    assert tzids == ["America/Los_Angeles"]
    for appt in (a, b, d):
        ev, vev = events[uid(appt["id"])], v_events[uid(appt["id"])]
        start = dt.datetime.fromisoformat(appt["start"])
        end = dt.datetime.fromisoformat(appt["end"])
        assert ev["DTSTART"].params["TZID"] == "America/Los_Angeles"
        assert ev.decoded("DTSTART") == start and ev.decoded("DTEND") == end
        assert ev.decoded("DTSTART").astimezone(LA).replace(tzinfo=None) == start.astimezone(LA).replace(tzinfo=None)
        assert vev.dtstart.value == start and vev.dtend.value == end
        assert int(ev["SEQUENCE"]) == 0 and int(vev.sequence.value) == 0
        assert str(ev["STATUS"]) == "CONFIRMED"
        assert ev.get("LAST-MODIFIED") is not None and ev.get("DTSTAMP") is not None
        # No patient names by default, in any field.
        for name in clinic.names:
            assert name not in first.get_data(as_text=True)
    assert "Psychiatric evaluation" in str(events[uid(a["id"])]["SUMMARY"])
    # The dosing session shows its phases, not who the patient is.
    assert "monitoring until" in str(events[uid(d["id"])]["DESCRIPTION"])

    # Rendering again: byte-identical, UIDs stable.
    again = fetch(api, path)
    assert again.data == first.data

    # Move b (PATCH start): same UID, SEQUENCE rises, new local time.
    r = api.patch(f"/appointments/{b['id']}", json={"start": c.local(DAY, "15:00")}, as_="front_desk")
    assert r.status_code == 200, r.get_data(as_text=True)
    moved = fetch(api, path)
    events, v_events, _ = parse(moved.data)
    assert set(events) == {uid(a["id"]), uid(b["id"]), uid(d["id"])}
    ev = events[uid(b["id"])]
    assert int(ev["SEQUENCE"]) == 1 and int(v_events[uid(b["id"])].sequence.value) == 1
    assert ev.decoded("DTSTART") == instant(DAY, "15:00")
    assert ev.decoded("DTSTART").astimezone(LA).hour == 15
    assert int(events[uid(a["id"])]["SEQUENCE"]) == 0  # untouched
    # Moved again: SEQUENCE keeps rising.
    api.patch(f"/appointments/{b['id']}", json={"start": c.local(DAY, "16:00")}, as_="front_desk")
    events, _, _ = parse(fetch(api, path).data)
    assert int(events[uid(b["id"])]["SEQUENCE"]) == 2

    # Cancel a: it stays, marked CANCELLED, with a higher SEQUENCE.
    r = api.post(f"/appointments/{a['id']}/cancel", json={"reason": "patient asked"}, as_="front_desk")
    assert r.status_code == 200
    events, v_events, _ = parse(fetch(api, path).data)
    assert uid(a["id"]) in events
    assert str(events[uid(a["id"])]["STATUS"]) == "CANCELLED"
    assert v_events[uid(a["id"])].status.value == "CANCELLED"
    assert int(events[uid(a["id"])]["SEQUENCE"]) >= 1
    assert len(events) == 3

    # Room and location feeds: the same UIDs for the same appointments.
    room_events, _, _ = parse(fetch(api, feed_path(token_for(api, room_id=clinic.treatment[0]))).data)
    loc_events, _, _ = parse(fetch(api, feed_path(token_for(api, location_id=clinic.loc))).data)
    assert uid(d["id"]) in loc_events and uid(a["id"]) in loc_events and uid(b["id"]) in loc_events
    assert uid(elsewhere["id"]) not in loc_events
    rooms_of = {x["id"]: x["room"]["id"] for x in (a, d)}
    assert {u for u in room_events} == {uid(i) for i, room in rooms_of.items() if room == clinic.treatment[0]} \
        | ({uid(b["id"])} if b["room"]["id"] == clinic.treatment[0] else set())
    for u in set(room_events) & set(loc_events):
        assert room_events[u].decoded("DTSTART") == loc_events[u].decoded("DTSTART")


def test_patient_names_only_when_the_location_turns_them_on(api, clinic):
    p1 = clinic.patients[0]
    appt = booked(api, p1, c.local(DAY, "09:00"), provider_id=clinic.presc, loc=clinic.loc)
    path = feed_path(token_for(api, provider_id=clinic.presc))
    loc_path = feed_path(token_for(api, location_id=clinic.loc))
    for p in (path, loc_path):
        events, v_events, _ = parse(fetch(api, p).data)
        assert clinic.names[0] not in str(events[uid(appt["id"])]["SUMMARY"])
        assert clinic.names[0] not in fetch(api, p).get_data(as_text=True)
    before = fetch(api, path).headers["ETag"]

    r = api.patch(f"/locations/{clinic.loc}", json={"feed_shows_patient_names": True}, as_="admin")
    assert r.status_code == 200, r.get_data(as_text=True)
    for p in (path, loc_path):
        events, v_events, _ = parse(fetch(api, p).data)
        assert str(events[uid(appt["id"])]["SUMMARY"]).startswith(clinic.names[0])
        assert v_events[uid(appt["id"])].summary.value.startswith(clinic.names[0])
    assert fetch(api, path).headers["ETag"] != before

    r = api.patch(f"/locations/{clinic.loc}", json={"feed_shows_patient_names": False}, as_="admin")
    assert r.status_code == 200
    assert clinic.names[0] not in fetch(api, path).get_data(as_text=True)


def test_time_off_appears_in_the_provider_feed(api, clinic):
    r = api.post(f"/providers/{clinic.presc}/time-off", as_="front_desk", json={
        "start": c.local("2030-01-09", "12:00"), "end": c.local("2030-01-09", "15:00"), "reason": "dentist"})
    assert r.status_code == 201, r.get_data(as_text=True)
    off = r.get_json()
    path = feed_path(token_for(api, provider_id=clinic.presc))
    events, v_events, _ = parse(fetch(api, path).data)
    key = f"timeoff-{off['id']}@clinic-scheduler"
    assert key in events
    assert events[key].decoded("DTSTART") == instant("2030-01-09", "12:00")
    assert events[key].decoded("DTEND") == instant("2030-01-09", "15:00")
    assert events[key]["DTSTART"].params["TZID"] == "America/Los_Angeles"
    assert "dentist" not in fetch(api, path).get_data(as_text=True)  # the reason stays private
    assert v_events[key].dtstart.value == instant("2030-01-09", "12:00")
    # Not in another provider's feed; gone once removed.
    other_events, _, _ = parse(fetch(api, feed_path(token_for(api, provider_id=clinic.nurse))).data)
    assert key not in other_events
    assert api.delete(f"/providers/{clinic.presc}/time-off/{off['id']}", as_="front_desk").status_code == 204
    events, _, _ = parse(fetch(api, path).data)
    assert key not in events


def test_local_times_are_right_across_both_2027_dst_changes(api, app, clinic, clock):
    # Book with the clock in 2027 so every date is bookable and inside the feed's window.
    clock.set(dt.datetime(2027, 3, 1, 16, tzinfo=UTC))
    p1, p2, p3 = clinic.patients
    days = {  # local date -> UTC offset (hours) at 09:00 in Los Angeles
        "2027-03-12": -8, "2027-03-13": -8, "2027-03-15": -7, "2027-03-16": -7,
        "2027-11-05": -7, "2027-11-06": -7, "2027-11-08": -8, "2027-11-09": -8,
    }
    made = {}
    for i, day in enumerate(days):
        made[day] = booked(api, clinic.patients[i % 3], c.local(day, "09:00"), provider_id=clinic.presc,
                           loc=clinic.loc)
    # One on the changeover Sundays themselves.
    made["2027-03-14"] = booked(api, p1, c.local("2027-03-14", "10:00"), provider_id=clinic.presc,
                                loc=clinic.loc)
    made["2027-11-07"] = booked(api, p2, c.local("2027-11-07", "10:00"), provider_id=clinic.presc,
                                loc=clinic.loc)
    days.update({"2027-03-14": -7, "2027-11-07": -8})

    body = fetch(api, feed_path(token_for(api, provider_id=clinic.presc))).data
    events, v_events, cal = parse(body)
    assert len(events) == len(made)
    vtz = cal.walk("VTIMEZONE")
    assert [str(z["TZID"]) for z in vtz] == ["America/Los_Angeles"]
    assert vtz[0].walk("DAYLIGHT") and vtz[0].walk("STANDARD")
    assert b"DTSTART;TZID=America/Los_Angeles:20270315T090000" in body
    assert b"DTSTART;TZID=America/Los_Angeles:20270312T090000" in body
    for day, appt in made.items():
        key = uid(appt["id"])
        hour = 10 if day in ("2027-03-14", "2027-11-07") else 9
        expected = dt.datetime.fromisoformat(f"{day}T{hour:02d}:00").replace(tzinfo=LA)
        assert expected.utcoffset() == dt.timedelta(hours=days[day])
        for parsed in (events[key].decoded("DTSTART"), v_events[key].dtstart.value):
            assert parsed == expected, (day, parsed)
            assert parsed.utcoffset() == dt.timedelta(hours=days[day]), (day, parsed)
            assert (parsed.hour, parsed.minute) == (hour, 0), (day, parsed)
        # The raw property is a wall time in the location's zone.
        assert events[key]["DTSTART"].params["TZID"] == "America/Los_Angeles"
        assert events[key]["DTSTART"].dt.replace(tzinfo=None) == expected.replace(tzinfo=None)


# ---------------------------------------------------------------- ETag / If-None-Match
def test_etag_and_if_none_match(api, clinic):
    p1, p2, _ = clinic.patients
    booked(api, p1, c.local(DAY, "09:00"), provider_id=clinic.presc, loc=clinic.loc)
    path = feed_path(token_for(api, provider_id=clinic.presc))
    first = fetch(api, path)
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')

    not_modified = fetch(api, path, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.data == b""
    assert not_modified.headers["ETag"] == etag
    # In a list, or weak: still a match.
    assert fetch(api, path, headers={"If-None-Match": f'"nope", {etag}'}).status_code == 304
    # If-None-Match compares weakly (RFC 9110 13.1.2): a proxy may have weakened the tag.
    assert fetch(api, path, headers={"If-None-Match": f"W/{etag}"}).status_code == 304
    assert fetch(api, path, headers={"If-None-Match": "*"}).status_code == 304
    assert fetch(api, path, headers={"If-None-Match": '"something-else"'}).status_code == 200
    # Even with a valid ETag, a revoked or wrong token gets nothing.
    assert fetch(api, path + "x", headers={"If-None-Match": etag}).status_code == 404

    # Any change to the feed makes a new ETag, and the old one no longer matches.
    booked(api, p2, c.local(DAY, "11:00"), provider_id=clinic.presc, loc=clinic.loc)
    changed = fetch(api, path, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    new_etag = changed.headers["ETag"]
    assert new_etag != etag
    assert fetch(api, path, headers={"If-None-Match": new_etag}).status_code == 304
    # A change elsewhere (another provider) leaves this feed's ETag alone.
    booked(api, p2, c.local("2030-01-08", "10:00"), provider_id=clinic.other, loc=clinic.other_loc)
    assert fetch(api, path, headers={"If-None-Match": new_etag}).status_code == 304


# ---------------------------------------------------------------- free/busy
def _busy(api, provider_id, start, end, as_="calendar", **params):
    return api.get(f"/providers/{provider_id}/busy", as_=as_,
                   query_string={"start": start, "end": end, **params})


def _periods(body: bytes):
    cal = icalendar.Calendar.from_ical(body)
    (fb,) = cal.walk("VFREEBUSY")
    values = fb.get("FREEBUSY")
    values = values if isinstance(values, list) else ([values] if values is not None else [])
    out = []
    for prop in values:
        assert prop.params.get("FBTYPE", "BUSY") == "BUSY"
        start, end = prop.dt if hasattr(prop, "dt") else prop
        out.append((start, end if isinstance(end, dt.datetime) else start + end))
    return fb, sorted(out)


def test_free_busy_merged_per_source_as_json_and_vfreebusy(api, app, clinic):
    p1, p2, _ = clinic.patients
    # Appointments back to back (09:00-10:00, 10:00-11:00) merge into one busy span.
    booked(api, p1, c.local(DAY, "09:00"), provider_id=clinic.presc, loc=clinic.loc)
    booked(api, p2, c.local(DAY, "10:00"), provider_id=clinic.presc, loc=clinic.loc)
    # A dosing session holds the provider for administering only (40 min of IV).
    booked(api, p1, c.local("2030-01-08", "09:00"), "ketamine_iv", provider_id=clinic.presc, loc=clinic.loc)
    # A cancelled one does not count.
    gone = booked(api, p2, c.local(DAY, "15:00"), provider_id=clinic.presc, loc=clinic.loc)
    api.post(f"/appointments/{gone['id']}/cancel", json={"reason": "x"}, as_="front_desk")
    r = api.post(f"/providers/{clinic.presc}/time-off", as_="front_desk",
                 json={"start": c.local(DAY, "12:00"), "end": c.local(DAY, "14:00")})
    assert r.status_code == 201
    cal = ExternalCalendar(provider_id=clinic.presc, kind="ics", url="http://example.invalid/x.ics",
                           next_sync_at=instant(DAY, "00:00"))
    db.session.add(cal)
    db.session.flush()
    db.session.add_all([BusyBlock(calendar_id=cal.id, provider_id=clinic.presc, start_at=instant(DAY, a),
                                  end_at=instant(DAY, b)) for a, b in (("13:30", "14:30"), ("14:30", "15:30"))])
    db.session.commit()

    start, end = c.local(DAY, "00:00"), c.local("2030-01-09", "00:00")
    r = _busy(api, clinic.presc, start, end)
    assert r.status_code == 200, r.get_data(as_text=True)
    got = [(dt.datetime.fromisoformat(b["start"]), dt.datetime.fromisoformat(b["end"]), b["source"])
           for b in r.get_json()["busy"]]
    assert got == [
        (instant(DAY, "09:00"), instant(DAY, "11:00"), "appointment"),
        (instant(DAY, "12:00"), instant(DAY, "14:00"), "time_off"),
        (instant(DAY, "13:30"), instant(DAY, "15:30"), "external"),
        (instant("2030-01-08", "09:00"), instant("2030-01-08", "09:40"), "appointment"),
    ]
    # Clipped to the window.
    r = _busy(api, clinic.presc, c.local(DAY, "09:30"), c.local(DAY, "12:30"))
    got = [(dt.datetime.fromisoformat(b["start"]), dt.datetime.fromisoformat(b["end"]), b["source"])
           for b in r.get_json()["busy"]]
    assert got == [(instant(DAY, "09:30"), instant(DAY, "11:00"), "appointment"),
                   (instant(DAY, "12:00"), instant(DAY, "12:30"), "time_off")]
    # Other roles may read it; without a key, not.
    assert _busy(api, clinic.presc, start, end, as_="front_desk").status_code == 200
    assert _busy(api, clinic.presc, start, end, as_=None).status_code == 401
    assert _busy(api, 99999, start, end).status_code == 404

    # VFREEBUSY: every source merged into one list of periods, in UTC.
    expected = [(instant(DAY, "09:00"), instant(DAY, "11:00")), (instant(DAY, "12:00"), instant(DAY, "15:30")),
                (instant("2030-01-08", "09:00"), instant("2030-01-08", "09:40"))]
    by_format = _busy(api, clinic.presc, start, end, format="ics")
    by_accept = api.get(f"/providers/{clinic.presc}/busy", as_="calendar", headers={"Accept": "text/calendar"},
                        query_string={"start": start, "end": end})
    for resp in (by_format, by_accept):
        assert resp.status_code == 200, resp.get_data(as_text=True)
        assert resp.mimetype == "text/calendar"
        fb, periods = _periods(resp.data)
        assert periods == expected
        assert fb.decoded("DTSTART") == instant(DAY, "00:00")
        assert fb.decoded("DTEND") == instant("2030-01-09", "00:00")
    assert by_format.data == by_accept.data
    # vobject reads it too.
    vfb = vobject_read(by_format.data).vfreebusy
    assert sorted(tuple(p) for line in vfb.contents["freebusy"] for p in line.value) == expected


def test_free_busy_refuses_bad_windows(api, clinic):
    start = c.local(DAY, "09:00")
    for end in (start, c.local(DAY, "08:00")):
        r = _busy(api, clinic.presc, start, end)
        assert r.status_code == 422, r.get_data(as_text=True)
        assert r.get_json()["code"] == "validation_error"
    r = _busy(api, clinic.presc, "2030-01-07T09:00:00", c.local(DAY, "10:00"))
    assert r.status_code == 422
    assert "start" in r.get_json()["errors"]
    r = _busy(api, clinic.presc, start, "2030-01-07T10:00:00")
    assert r.status_code == 422 and "end" in r.get_json()["errors"]
    r = api.get(f"/providers/{clinic.presc}/busy", as_="calendar", query_string={"start": start})
    assert r.status_code == 422 and "end" in r.get_json()["errors"]
    assert _busy(api, clinic.presc, start, c.local(DAY, "10:00"), format="xml").status_code == 422
    r = _busy(api, clinic.presc, start, c.local(DAY, "10:00"), format="ics")
    assert r.status_code == 200
    r = _busy(api, clinic.presc, start, c.local(DAY, "09:00"), format="ics")
    assert r.status_code == 422


# ---------------------------------------------------------------- a big feed
def test_measure_a_provider_feed_with_two_thousand_appointments(api, app, clinic, clock):
    """Measured, printed, only loosely asserted (run with -s to see the numbers)."""
    consult = db.session.scalar(select(SessionType).where(SessionType.code == "consultation"))
    base = instant("2029-11-01", "08:00")
    rows, hours = [], (0, 1, 2, 4, 5, 6)  # 08:00..14:00 local-ish, never overlapping
    now = clock.now()
    i = 0
    while len(rows) < 2000:
        day, slot = divmod(i, len(hours))
        start = base + dt.timedelta(days=day, hours=hours[slot])
        end = start + dt.timedelta(minutes=60)
        rows.append(dict(patient_id=clinic.patients[i % 3], session_type_id=consult.id, location_id=clinic.loc,
                         provider_id=clinic.presc, room_id=clinic.therapy[slot % 2], telehealth=False,
                         status="booked" if i % 10 else "cancelled", start_at=start, end_at=end,
                         provider_busy_end=end, room_busy_end=end + dt.timedelta(minutes=15),
                         local_date=start.astimezone(LA).date(), is_dosing=False, notes="",
                         sequence=i % 3, created_by="bench", created_at=now, updated_at=now, version=1))
        i += 1
    db.session.execute(insert(Appointment), rows)
    db.session.commit()
    assert rows[-1]["start_at"] < now + dt.timedelta(days=366)
    path = feed_path(token_for(api, provider_id=clinic.presc))

    ical_feed._vevent_ical.cache_clear()
    ical_feed._vtimezone_ical.cache_clear()
    t0 = time.perf_counter()
    cold = fetch(api, path)
    cold_s = time.perf_counter() - t0
    assert cold.status_code == 200
    assert cold.data.count(b"BEGIN:VEVENT") == 2000
    t0 = time.perf_counter()
    warm = fetch(api, path)
    warm_s = time.perf_counter() - t0
    assert warm.data == cold.data
    t0 = time.perf_counter()
    nm = fetch(api, path, headers={"If-None-Match": cold.headers["ETag"]})
    nm_s = time.perf_counter() - t0
    assert nm.status_code == 304
    events, v_events, _ = parse(cold.data)
    assert len(events) == 2000 and len(v_events) == 2000
    print(f"\nprovider feed, 2,000 events ({len(cold.data) / 1024:.0f} KiB, {db.engine.dialect.name}): "
          f"cold {cold_s * 1000:.0f} ms, warm {warm_s * 1000:.0f} ms, 304 {nm_s * 1000:.0f} ms")
    assert cold_s < 30 and nm_s < 30  # loose: the numbers are reported, not judged here
