"""Signed webhooks out (issue 5), delivered by the worker job to a real local HTTP
receiver: the signature verifies, 500s are retried with back-off and logged, delivery
follows the change feed (head-of-line), a failing endpoint is marked and never silently
disabled, 24 h of failures gives up on that change only, replay, event filters, delete.

The clock stands at Tue 2030-01-01 08:00 Los Angeles; 2030-01-07 is a Monday.
"""
import datetime as dt
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from scheduler.adapters.outbound import OutboundPolicy
from scheduler.extensions import db
from scheduler.jobs.calendars import webhook_delivery_job
from scheduler.models import WebhookAttempt, WebhookDelivery
from scheduler.services.calendars import webhook_subscriptions
from tests.support import clinic as c

UTC = dt.timezone.utc
DAY = "2030-01-07"


class Receiver:
    """Records every POST; answers 500 while ``fail`` says so for (path, change id)."""

    def __init__(self):
        self.requests = []  # dicts: path, headers, body, change, status
        self.fail = {}  # (path, change id) -> failures still to answer
        self.always_fail = set()  # paths
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                change = json.loads(body)["id"]
                with outer.lock:
                    key = (self.path, change)
                    if self.path in outer.always_fail:
                        status = 500
                    elif outer.fail.get(key, 0) > 0:
                        outer.fail[key] -= 1
                        status = 500
                    else:
                        status = 200
                    outer.requests.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                           "change": change, "status": status})
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/hook"):
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def seen(self, path="/hook", status=None):
        return [(r["change"], r["status"]) if status is None else r["change"]
                for r in self.requests if r["path"] == path and (status is None or r["status"] == status)]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def receiver(allow_outbound):
    r = Receiver()
    allow_outbound(r.url())
    yield r
    r.close()


@pytest.fixture
def clinic(app):
    loc = c.location()
    c.rooms(loc, "therapy", 2)
    presc = c.provider("Dr. P", ["prescriber"], at=loc)
    pats = [c.patient(loc, name=f"P{i}", phone=f"+1805555{300 + i:04d}").id for i in range(4)]
    c.commit()
    return dict(loc=loc.id, presc=presc.id, patients=pats)


def book(api, clinic, i, hm):
    r = api.post("/appointments", as_="front_desk", json={
        "patient_id": clinic["patients"][i], "session_type": "consultation", "location_id": clinic["loc"],
        "start": c.local(DAY, hm), "provider_id": clinic["presc"]})
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def subscribe(api, url, events=("*",)):
    r = api.post("/webhook-subscriptions", as_="admin", json={"url": url, "events": list(events)})
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def latest_change_ids(api, n):
    body = api.get("/changes", as_="calendar", query_string={"limit": 500}).get_json()
    return [ch["id"] for ch in body["changes"]][-n:]


def deliveries(api, sub_id):
    r = api.get(f"/webhook-subscriptions/{sub_id}/deliveries", as_="admin")
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()["items"]


def sub_state(api, sub_id):
    r = api.get(f"/webhook-subscriptions/{sub_id}", as_="admin")
    assert r.status_code == 200
    return r.get_json()


def run_job():
    webhook_delivery_job()
    db.session.rollback()


def verify(secret: str, header: str, body: bytes) -> int:
    parts = dict(p.split("=", 1) for p in header.split(","))
    assert set(parts) == {"t", "v1"}, header
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, parts["v1"]), "signature does not verify"
    return int(parts["t"])


# ---------------------------------------------------------------- subscribing
def test_subscription_shows_its_secret_once_and_checks_event_kinds(api, app, receiver):
    assert api.post("/webhook-subscriptions", as_="front_desk",
                    json={"url": receiver.url(), "events": ["*"]}).status_code == 403
    assert api.post("/webhook-subscriptions", as_="calendar",
                    json={"url": receiver.url(), "events": ["*"]}).status_code == 403
    sub = subscribe(api, receiver.url(), ["appointment.booked", "busy.updated"])
    secret = sub["secret"]
    assert secret and len(secret) >= 32
    assert sub["events"] == ["appointment.booked", "busy.updated"]
    assert sub["active"] is True and sub["failing_since"] is None

    one = api.get(f"/webhook-subscriptions/{sub['id']}", as_="admin")
    listing = api.get("/webhook-subscriptions", as_="admin")
    for r in (one, listing):
        assert r.status_code == 200
        assert secret not in r.get_data(as_text=True)
        assert "secret" not in r.get_data(as_text=True)
    assert one.get_json()["url"] == receiver.url()
    assert api.get("/webhook-subscriptions", as_="front_desk").status_code == 403

    for bad in ({"url": receiver.url(), "events": ["appointment.exploded"]},
                {"url": receiver.url(), "events": ["appointment.booked", "nope"]},
                {"url": receiver.url(), "events": []},
                {"url": "ftp://example.com/x", "events": ["*"]},
                {"url": "not a url", "events": ["*"]},
                {"events": ["*"]}):
        r = api.post("/webhook-subscriptions", as_="admin", json=bad)
        assert r.status_code == 422, (bad, r.get_data(as_text=True))
    # The service layer refuses unknown kinds too (not only the API schema).
    from scheduler.domain.errors import Invalid

    with pytest.raises(Invalid):
        webhook_subscriptions.subscribe(receiver.url(), ["appointment.exploded"], "test",
                                        app.extensions["secret_box"], OutboundPolicy())


# ---------------------------------------------------------------- delivery
def test_events_are_delivered_as_signed_json(api, app, clinic, clock, receiver):
    before = book(api, clinic, 0, "08:00")  # before subscribing: not delivered
    sub = subscribe(api, receiver.url())
    appt = book(api, clinic, 1, "09:00")
    (change_id,) = latest_change_ids(api, 1)
    run_job()

    assert receiver.seen() == [(change_id, 200)]
    (req,) = receiver.requests
    assert req["headers"]["Content-Type"] == "application/json"
    t = verify(sub["secret"], req["headers"]["X-Signature"], req["body"])
    assert t == int(clock.now().timestamp())
    with pytest.raises(AssertionError):
        verify("whsec_wrong", req["headers"]["X-Signature"], req["body"])
    with pytest.raises(AssertionError):
        verify(sub["secret"], req["headers"]["X-Signature"], req["body"] + b" ")
    event = json.loads(req["body"])
    assert event["id"] == change_id and event["kind"] == "appointment.booked"
    assert event["entity_type"] == "appointment" and event["entity_id"] == appt["id"]
    assert event["provider_id"] == clinic["presc"] and event["location_id"] == clinic["loc"]
    assert dt.datetime.fromisoformat(event["start"]) == dt.datetime.fromisoformat(appt["start"])
    assert before["id"] not in [json.loads(r["body"])["entity_id"] for r in receiver.requests]

    (d,) = deliveries(api, sub["id"])
    assert (d["change_id"], d["status"], d["attempts"], d["last_status"]) == (change_id, "delivered", 1, 200)
    # Nothing more to send: running again sends nothing.
    run_job()
    assert len(receiver.requests) == 1


def test_500s_are_retried_with_backoff_logged_and_delivered_once(api, app, clinic, clock, receiver):
    sub = subscribe(api, receiver.url())
    book(api, clinic, 0, "09:00")
    (change_id,) = latest_change_ids(api, 1)
    receiver.fail[("/hook", change_id)] = 2

    run_job()
    assert receiver.seen() == [(change_id, 500)]
    (d,) = deliveries(api, sub["id"])
    assert (d["status"], d["attempts"], d["last_status"], d["last_error"]) == ("pending", 1, 500, "HTTP 500")
    first_retry = dt.datetime.fromisoformat(d["next_attempt_at"])
    assert first_retry > clock.now()
    state = sub_state(api, sub["id"])
    assert state["active"] is True and state["failing_since"] is not None
    assert state["last_error"] == f"change {change_id}: HTTP 500" and state["backlog"] == 1

    # Not before the back-off has passed.
    clock.advance(seconds=5)
    run_job()
    assert len(receiver.requests) == 1

    clock.set(first_retry.astimezone(UTC))
    run_job()
    assert receiver.seen() == [(change_id, 500), (change_id, 500)]
    (d,) = deliveries(api, sub["id"])
    second_retry = dt.datetime.fromisoformat(d["next_attempt_at"])
    assert d["attempts"] == 2 and second_retry > clock.now()
    # The back-off grows (full jitter in [ceiling/2, ceiling], ceiling doubling).
    assert second_retry - clock.now() >= dt.timedelta(seconds=30)

    clock.set(second_retry.astimezone(UTC))
    run_job()
    assert receiver.seen() == [(change_id, 500), (change_id, 500), (change_id, 200)]
    (d,) = deliveries(api, sub["id"])
    assert (d["status"], d["attempts"], d["last_status"], d["last_error"]) == ("delivered", 3, 200, None)
    state = sub_state(api, sub["id"])
    assert state["failing_since"] is None and state["last_error"] is None and state["backlog"] == 0
    # Every attempt is in the log, each with its status, and the API shows it.
    assert [(a["status_code"], a["error"]) for a in d["attempts_log"]] == \
        [(500, "HTTP 500"), (500, "HTTP 500"), (200, None)]
    attempts = db.session.execute(select(WebhookAttempt.status_code, WebhookAttempt.error)
                                  .order_by(WebhookAttempt.id)).all()
    assert [tuple(a) for a in attempts] == [(500, "HTTP 500"), (500, "HTTP 500"), (200, None)]
    # Delivered once: no more requests later.
    clock.advance(hours=2)
    run_job()
    assert len(receiver.requests) == 3
    # Each attempt was signed with its own send time.
    for r in receiver.requests:
        verify(sub["secret"], r["headers"]["X-Signature"], r["body"])


def test_order_follows_the_change_feed_head_of_line(api, app, clinic, clock, receiver):
    sub = subscribe(api, receiver.url())
    for i, hm in enumerate(("09:00", "10:00", "11:00")):
        book(api, clinic, i, hm)
    c1, c2, c3 = latest_change_ids(api, 3)
    receiver.fail[("/hook", c1)] = 1

    run_job()
    assert receiver.seen() == [(c1, 500)]  # c2 and c3 wait behind c1
    run_job()
    assert receiver.seen() == [(c1, 500)]
    by_change = {d["change_id"]: d for d in deliveries(api, sub["id"])}
    assert [by_change[x]["status"] for x in (c1, c2, c3)] == ["pending"] * 3
    assert by_change[c2]["attempts"] == by_change[c3]["attempts"] == 0

    clock.set(dt.datetime.fromisoformat(by_change[c1]["next_attempt_at"]).astimezone(UTC))
    run_job()
    assert receiver.seen() == [(c1, 500), (c1, 200), (c2, 200), (c3, 200)]
    assert receiver.seen(status=200) == [c1, c2, c3]
    assert [d["status"] for d in deliveries(api, sub["id"])] == ["delivered"] * 3


def test_a_failing_endpoint_is_marked_not_disabled_and_gives_up_after_24_hours(api, app, clinic, clock,
                                                                               receiver):
    bad = subscribe(api, receiver.url("/bad"))
    subscribe(api, receiver.url("/good"))  # a healthy neighbour: it must not be held up
    book(api, clinic, 0, "09:00")
    (c1,) = latest_change_ids(api, 1)
    receiver.always_fail.add("/bad")
    started = clock.now()

    run_job()
    assert receiver.seen("/good") == [(c1, 200)]  # one failing endpoint holds up no other
    assert receiver.seen("/bad") == [(c1, 500)]
    book(api, clinic, 1, "10:00")
    (c2,) = latest_change_ids(api, 1)
    run_job()
    assert receiver.seen("/good", status=200) == [c1, c2]

    for _ in range(200):
        (d1,) = [d for d in deliveries(api, bad["id"]) if d["change_id"] == c1]
        if d1["status"] == "dead":
            break
        assert d1["status"] == "pending"
        state = sub_state(api, bad["id"])
        # Marked and visible, never disabled.
        assert state["active"] is True
        assert dt.datetime.fromisoformat(state["failing_since"]) == started
        assert state["last_error"] == f"change {c1}: HTTP 500"
        assert c2 not in [x for x, _ in receiver.seen("/bad")]  # head-of-line
        clock.set(dt.datetime.fromisoformat(d1["next_attempt_at"]).astimezone(UTC))
        run_job()
    else:
        pytest.fail("the delivery never gave up")
    gave_up_at = clock.now()
    assert dt.timedelta(hours=24) <= gave_up_at - started <= dt.timedelta(hours=25)
    attempts = d1["attempts"]
    assert attempts >= 10
    assert db.session.scalar(select(WebhookDelivery.first_attempt_at).where(
        WebhookDelivery.subscription_id == bad["id"], WebhookDelivery.change_id == c1)) == started
    state = sub_state(api, bad["id"])
    assert state["active"] is True and state["failing_since"] is not None and state["last_error"]

    # Dead: never tried again; the later change now proceeds.
    receiver.always_fail.discard("/bad")
    run_job()
    clock.advance(hours=1)
    run_job()
    bad_seen = receiver.seen("/bad")
    assert [x for x, _ in bad_seen].count(c1) == attempts
    assert bad_seen[-1] == (c2, 200)
    by_change = {d["change_id"]: d for d in deliveries(api, bad["id"])}
    assert by_change[c1]["status"] == "dead" and by_change[c2]["status"] == "delivered"
    state = sub_state(api, bad["id"])
    assert state["failing_since"] is None and state["active"] is True


def test_replay_delivers_again_in_order(api, app, clinic, clock, receiver):
    sub = subscribe(api, receiver.url())
    for i, hm in enumerate(("09:00", "10:00", "11:00")):
        book(api, clinic, i, hm)
    c1, c2, c3 = latest_change_ids(api, 3)
    run_job()
    assert receiver.seen(status=200) == [c1, c2, c3]

    assert api.post(f"/webhook-subscriptions/{sub['id']}/replay", as_="front_desk", json={}).status_code == 403
    r = api.post(f"/webhook-subscriptions/{sub['id']}/replay", as_="admin", json={})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json() == {"queued": 3}
    run_job()
    assert receiver.seen(status=200) == [c1, c2, c3, c1, c2, c3]

    cursor = api.get("/changes", as_="calendar", query_string={"limit": 1}).get_json()["next_cursor"]
    r = api.post(f"/webhook-subscriptions/{sub['id']}/replay", as_="admin", json={"since": cursor})
    assert r.get_json() == {"queued": 2}
    run_job()
    assert receiver.seen(status=200) == [c1, c2, c3, c1, c2, c3, c2, c3]
    for req in receiver.requests:
        verify(sub["secret"], req["headers"]["X-Signature"], req["body"])
    assert api.post(f"/webhook-subscriptions/{sub['id']}/replay", as_="admin",
                    json={"since": "garbage!!"}).status_code == 422
    assert api.post("/webhook-subscriptions/99999/replay", as_="admin", json={}).status_code == 404


def test_only_subscribed_kinds_are_delivered(api, app, clinic, clock, receiver):
    cancels = subscribe(api, receiver.url("/cancels"), ["appointment.cancelled"])
    everything = subscribe(api, receiver.url("/all"))
    appt = book(api, clinic, 0, "09:00")
    assert api.patch(f"/appointments/{appt['id']}", json={"start": c.local(DAY, "10:00")},
                     as_="front_desk").status_code == 200
    assert api.post(f"/appointments/{appt['id']}/cancel", json={"reason": "x"}, as_="front_desk").status_code == 200
    booked_id, moved_id, cancelled_id = latest_change_ids(api, 3)
    run_job()
    assert receiver.seen("/cancels") == [(cancelled_id, 200)]
    assert json.loads(receiver.requests[[r["path"] for r in receiver.requests].index("/cancels")]["body"])[
        "kind"] == "appointment.cancelled"
    assert receiver.seen("/all", status=200) == [booked_id, moved_id, cancelled_id]
    assert [d["change_id"] for d in deliveries(api, cancels["id"])] == [cancelled_id]
    assert len(deliveries(api, everything["id"])) == 3


def test_delete_removes_the_subscription(api, app, clinic, clock, receiver):
    sub = subscribe(api, receiver.url())
    book(api, clinic, 0, "09:00")
    receiver.always_fail.add("/hook")
    run_job()  # one failed attempt logged
    assert api.delete(f"/webhook-subscriptions/{sub['id']}", as_="front_desk").status_code == 403
    assert api.delete(f"/webhook-subscriptions/{sub['id']}", as_="admin").status_code == 204
    assert api.get(f"/webhook-subscriptions/{sub['id']}", as_="admin").status_code == 404
    assert api.get(f"/webhook-subscriptions/{sub['id']}/deliveries", as_="admin").status_code == 404
    assert api.get("/webhook-subscriptions", as_="admin").get_json()["items"] == []
    assert api.delete(f"/webhook-subscriptions/{sub['id']}", as_="admin").status_code == 404
    receiver.always_fail.clear()
    count = len(receiver.requests)
    book(api, clinic, 1, "10:00")
    clock.advance(hours=1)
    run_job()
    assert len(receiver.requests) == count
    assert db.session.scalar(select(WebhookDelivery.id).limit(1)) is None
