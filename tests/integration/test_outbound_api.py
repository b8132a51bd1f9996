"""The outbound policy through the API (issue 16): hostile calendar and webhook URLs are
refused at registration (422 naming the field and the reason) and again at every fetch,
recorded on the calendar or subscription, without any connection or lookup; a redirect to
a refused address is not followed; oversized answers and runaway recurrences are cut off,
recorded, and keep the old busy time; no error shown through the API quotes a remote
server. Local test servers are exempted through OUTBOUND_ALLOWED_HOSTS (allow_outbound)."""
import dataclasses
import time

import pytest
from sqlalchemy import func, select

from scheduler.extensions import db
from scheduler.jobs.calendars import calendar_sync_job, webhook_delivery_job
from scheduler.models import BusyBlock, ExternalCalendar, WebhookAttempt, WebhookSubscription
from scheduler.services.calendars import changes
from tests.support import clinic as c
from tests.support.hostile_urls import HOSTILE
from tests.support.local_http import LocalServer

TZ = "TZID=America/Los_Angeles"


def vcalendar(*events: str) -> bytes:
    body = "".join(e + "\r\n" for e in events)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n{body}END:VCALENDAR\r\n".encode()


def vevent(uid: str, *lines: str) -> str:
    return "\r\n".join(["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20291201T000000Z", *lines, "END:VEVENT"])


ONE_EVENT = vcalendar(vevent("dentist@x", f"DTSTART;{TZ}:20300108T100000", f"DTEND;{TZ}:20300108T110000"))
SECONDLY = vcalendar(vevent("storm@x", "DTSTART:20300101T000000Z", "DURATION:PT1S", "RRULE:FREQ=SECONDLY"))
DAILY = vcalendar(vevent("daily@x", f"DTSTART;{TZ}:20300102T120000", f"DTEND;{TZ}:20300102T130000",
                         "RRULE:FREQ=DAILY"))


@pytest.fixture
def provider(app):
    loc = c.location()
    p = c.provider("Dr. P", ["prescriber"], at=loc)
    c.commit()
    return p.id


def link(api, provider, **body):
    return api.post(f"/providers/{provider}/external-calendars", as_="front_desk", json=body)


def sync(api, provider, cal_id):
    return api.post(f"/providers/{provider}/external-calendars/{cal_id}/sync", as_="front_desk")


def state(api, provider, cal_id):
    (row,) = [x for x in api.get(f"/providers/{provider}/external-calendars", as_="front_desk")
              .get_json()["items"] if x["id"] == cal_id]
    return row


def blocks(cal_id):
    db.session.rollback()
    return db.session.execute(select(BusyBlock.id, BusyBlock.start_at).where(BusyBlock.calendar_id == cal_id)
                              .order_by(BusyBlock.id)).all()


def failing_everywhere(api, provider, count):
    readyz = api.get("/readyz", as_=None).get_json()
    assert readyz["status"] == "degraded" and readyz["checks"]["calendars"] == f"{count} failing"
    assert api.get(f"/providers/{provider}", as_="front_desk").get_json()["calendars_failing"] == count


# -- registration --------------------------------------------------------------------------
@pytest.mark.parametrize("url, words", HOSTILE, ids=[u for u, _ in HOSTILE])
def test_hostile_urls_are_refused_at_registration_naming_the_field_and_reason(api, provider, no_network,
                                                                              url, words):
    answers = [api.post("/webhook-subscriptions", json={"url": url, "events": ["*"]}),
               link(api, provider, kind="ics", url=url),
               link(api, provider, kind="caldav", url=url, username="u", password="p")]
    for r in answers:
        assert r.status_code == 422, r.get_data(as_text=True)
        body = r.get_json()
        assert body["code"] == "outbound_refused" and list(body["errors"]) == ["url"]
        assert words in body["errors"]["url"][0] and words in body["message"]
    assert no_network == []
    assert db.session.scalar(select(func.count()).select_from(ExternalCalendar)) == 0
    assert db.session.scalar(select(func.count()).select_from(WebhookSubscription)) == 0


def test_only_the_exempt_host_and_port_as_written_get_in(api, provider, allow_outbound):
    with LocalServer({}) as server:
        allow_outbound(server.url())
        assert link(api, provider, kind="ics", url=server.url("/a.ics")).status_code == 201
        for other in (server.url("/a.ics", host="localhost"), server.url("/a.ics", host="127.1"),
                      f"http://127.0.0.1:{server.port + 1}/a.ics"):
            r = link(api, provider, kind="ics", url=other)
            assert r.status_code == 422 and r.get_json()["code"] == "outbound_refused", other


# -- every fetch -----------------------------------------------------------------------------
@pytest.mark.parametrize("url, words", HOSTILE, ids=[u for u, _ in HOSTILE])
def test_a_stored_hostile_url_is_refused_at_every_fetch_and_recorded(app, api, provider, clock, no_network,
                                                                     url, words):
    # Stored before the policy existed (or while an operator had exempted the host).
    cals = [ExternalCalendar(provider_id=provider, kind=kind, url=url, next_sync_at=clock.now())
            for kind in ("ics", "caldav")]
    sub = WebhookSubscription(url=url, events=["*"], secret_sealed=app.extensions["secret_box"].seal("whsec_test"))
    db.session.add_all([*cals, sub])
    db.session.commit()
    cal_ids, sub_id = [cal.id for cal in cals], sub.id
    for cal in cal_ids:
        r = sync(api, provider, cal)
        assert r.status_code == 502 and r.get_json()["code"] == "outbound_refused"
        assert words in r.get_json()["message"]
        assert state(api, provider, cal)["last_error"].startswith("outbound_refused: ")
    failing_everywhere(api, provider, 2)
    clock.advance(hours=2)  # past the back-off: the worker tries, and is refused again
    assert calendar_sync_job() == 2
    assert [state(api, provider, cal)["failures"] for cal in cal_ids] == [2, 2]

    changes.record("busy.updated", "external_calendar", cal_ids[0], clock.now(), provider_id=provider)
    db.session.commit()
    webhook_delivery_job()
    db.session.rollback()
    (attempt,) = db.session.scalars(select(WebhookAttempt)).all()
    assert attempt.status_code is None and attempt.error.startswith("outbound_refused: ")
    shown = api.get(f"/webhook-subscriptions/{sub_id}", as_="admin").get_json()
    assert words in shown["last_error"] and shown["failing_since"] is not None
    assert no_network == []


def test_a_redirect_to_a_refused_address_is_not_followed(api, provider, allow_outbound):
    with LocalServer({"/busy.ics": lambda req: (200, {}, ONE_EVENT)}) as internal, \
            LocalServer({}) as public:
        public.routes["/cal.ics"] = lambda req: (302, {"Location": internal.url("/busy.ics")}, b"")
        allow_outbound(public.url())  # the internal server is not exempt
        cal = link(api, provider, kind="ics", url=public.url("/cal.ics")).get_json()
        r = sync(api, provider, cal["id"])
        assert r.status_code == 502 and r.get_json()["code"] == "outbound_refused"
        assert internal.requests == [] and len(public.requests) == 1
    assert state(api, provider, cal["id"])["last_error"].startswith("outbound_refused: ")


# -- bounded answers -------------------------------------------------------------------------
@pytest.fixture
def feed(api, provider, allow_outbound):
    """An ICS calendar synced once (one busy block); returns (server, calendar id, blocks)."""
    with LocalServer({"/cal.ics": lambda req: (200, {}, ONE_EVENT)}) as server:
        allow_outbound(server.url())
        cal = link(api, provider, kind="ics", url=server.url("/cal.ics")).get_json()["id"]
        assert sync(api, provider, cal).status_code == 200
        before = blocks(cal)
        assert len(before) == 1
        yield server, cal, before


def test_an_oversized_ics_answer_is_cut_off_and_the_old_busy_time_kept(api, provider, feed):
    server, cal, before = feed
    huge = ONE_EVENT.replace(b"END:VCALENDAR", b"X-PAD:" + b"x" * (11 << 20) + b"\r\nEND:VCALENDAR")
    server.routes["/cal.ics"] = lambda req: (200, {}, huge)
    r = sync(api, provider, cal)
    assert r.status_code == 502 and r.get_json()["code"] == "response_too_large"
    assert state(api, provider, cal)["last_error"] == \
        f"response_too_large: the answer is larger than {10 << 20} bytes"
    assert blocks(cal) == before
    failing_everywhere(api, provider, 1)


def test_a_secondly_rule_is_cut_off_at_the_bound_and_shows_as_failing(api, provider, feed):
    server, cal, before = feed
    server.routes["/cal.ics"] = lambda req: (200, {}, SECONDLY)
    began = time.monotonic()
    r = sync(api, provider, cal)  # ~7.9 million occurrences in the window: never listed
    assert time.monotonic() - began < 5
    assert r.status_code == 502 and r.get_json()["code"] == "too_many_occurrences"
    error = state(api, provider, cal)["last_error"]
    assert error.startswith("too_many_occurrences: ") and "at most 20000 occurrences" in error
    assert blocks(cal) == before
    failing_everywhere(api, provider, 1)
    server.routes["/cal.ics"] = lambda req: (200, {}, ONE_EVENT)
    assert sync(api, provider, cal).status_code == 200  # fixed upstream: healed
    assert api.get("/readyz", as_=None).get_json()["checks"]["calendars"] == "ok"
    assert api.get(f"/providers/{provider}", as_="front_desk").get_json()["calendars_failing"] == 0


def test_the_occurrence_bound_is_the_configured_one(app, api, provider, feed, monkeypatch):
    server, cal, before = feed
    server.routes["/cal.ics"] = lambda req: (200, {}, DAILY)  # ~92 occurrences in the window
    settings = app.extensions["settings"]
    monkeypatch.setitem(app.extensions, "settings", dataclasses.replace(settings, calendar_max_occurrences=50))
    r = sync(api, provider, cal)
    assert r.get_json()["code"] == "too_many_occurrences" and "more than 50 occurrences" in r.get_json()["message"]
    assert blocks(cal) == before
    monkeypatch.setitem(app.extensions, "settings", dataclasses.replace(settings, calendar_max_occurrences=200))
    assert sync(api, provider, cal).status_code == 200
    assert len(blocks(cal)) >= 89


# -- what errors say -------------------------------------------------------------------------
def test_no_error_shown_through_the_api_quotes_the_remote_server(api, provider, clock, allow_outbound):
    secret = b"SECRET-BODY redis_version:7.0.0"

    def hang_up(req):
        req.close_connection = True  # what Redis does to an HTTP request

    routes = {"/500.ics": lambda req: (500, {"_reason": "SECRET-REASON"}, secret),
              "/garbage.ics": lambda req: (200, {}, secret), "/hang-up.ics": hang_up,
              "/dav/": lambda req: (500, {"Content-Type": "text/xml", "_reason": "SECRET-REASON"}, secret),
              "/hook": lambda req: (500, {"_reason": "SECRET-REASON"}, secret)}
    with LocalServer(routes) as server:
        allow_outbound(server.url())
        cals = [link(api, provider, kind="ics", url=server.url(p)).get_json()["id"]
                for p in ("/500.ics", "/garbage.ics", "/hang-up.ics")]
        cals.append(link(api, provider, kind="caldav", url=server.url("/dav/"), username="u",
                         password="p").get_json()["id"])
        shown = []
        for cal in cals:
            r = sync(api, provider, cal)
            assert r.status_code == 502
            shown += [r.get_json()["message"], state(api, provider, cal)["last_error"]]
        sub = api.post("/webhook-subscriptions", json={"url": server.url("/hook"), "events": ["*"]}).get_json()
        changes.record("busy.updated", "external_calendar", cals[0], clock.now(), provider_id=provider)
        db.session.commit()
        webhook_delivery_job()
        db.session.rollback()
        shown.append(api.get(f"/webhook-subscriptions/{sub['id']}", as_="admin").get_json()["last_error"])
        shown += [d["last_error"] for d in api.get(f"/webhook-subscriptions/{sub['id']}/deliveries",
                                                   as_="admin").get_json()["items"]]
    assert all(shown) and len(shown) == 10
    for text in shown:
        assert "SECRET" not in text and "redis" not in text and "Remote end" not in text, text
    assert "HTTP 500 Internal Server Error" in shown[1] and "not an iCalendar file" in shown[3]
