"""/metrics (issue 6) in Prometheus' text format: request latency per endpoint, bookings and
refusals by code, the outbox by status and the age of the oldest due text, texts by outcome
and error code, the webhook backlog, calendar sync failures.

Counters live in the process and other tests move them too, so each test compares
before and after; the gauges are read from the database and are compared with it.
"""
from __future__ import annotations

import dataclasses

import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from scheduler.adapters.busy_import import CalendarUnreachable
from scheduler.adapters.sms import PermanentSmsError, SendResult
from scheduler.extensions import db
from scheduler.models import Message
from scheduler.services.calendars import external_calendars as calendar_sync, webhook_delivery
from tests.support.sms import MONDAY, book, dispatch, sms_clinic


def scrape(client) -> dict:
    """{(sample name, ((label, value), ...)): value} from one scrape, parsed as Prometheus does."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == CONTENT_TYPE_LATEST
    assert response.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def delta(after, before, name, **labels) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


@pytest.fixture
def clinic(app):
    return sms_clinic()


def test_metrics_need_no_key_and_parse_as_prometheus(client, app):
    samples = scrape(client)
    names = {name for name, _ in samples}
    for expected in ("scheduler_outbox_oldest_due_seconds", "scheduler_webhook_backlog",
                     "scheduler_calendars_failing", "scheduler_calendar_sync_failures_total"):
        assert expected in names, expected


def test_request_latency_per_endpoint_bookings_and_refusals_by_code(api, client, clinic):
    before = scrape(client)
    booked = book(api, clinic, day=MONDAY, at="10:00")
    refused = book(api, clinic, day=MONDAY, at="10:00", expect=409)
    code = refused["code"]
    assert code == "patient_overlap"  # the same patient, the same time
    api.get(f"/appointments/{booked['id']}")
    after = scrape(client)

    assert delta(after, before, "scheduler_bookings_total", result="booked") == 1
    assert delta(after, before, "scheduler_bookings_total", result=code) == 1
    post = {"endpoint": "appointments.Appointments", "method": "POST"}
    assert delta(after, before, "scheduler_http_request_duration_seconds_count", **post) == 2
    assert delta(after, before, "scheduler_http_request_duration_seconds_sum", **post) > 0
    assert delta(after, before, "scheduler_http_request_duration_seconds_bucket", le="+Inf", **post) == 2
    assert delta(after, before, "scheduler_http_requests_total", status="201", **post) == 1
    assert delta(after, before, "scheduler_http_requests_total", status="409", **post) == 1
    assert delta(after, before, "scheduler_http_request_duration_seconds_count",
                 endpoint="appointments.AppointmentById", method="GET") == 1
    # The scrape itself is not counted as a request.
    assert value(after, "scheduler_http_requests_total", endpoint="metrics.metrics", method="GET",
                 status="200") == 0


def test_outbox_depth_by_status_and_the_age_of_the_oldest_due_text(api, client, clock, clinic):
    book(api, clinic, day=MONDAY, at="10:00")
    clock.advance(seconds=90)
    samples = scrape(client)
    db.session.commit()
    by_status = dict(db.session.execute(select(Message.status, func.count()).group_by(Message.status)).all())
    assert by_status.get("planned", 0) >= 1
    for status, count in by_status.items():
        assert value(samples, "scheduler_outbox_messages", status=status) == count
    oldest = db.session.scalar(select(func.min(Message.send_at)).where(
        Message.status == "planned", Message.send_at <= clock.now()))
    assert oldest is not None
    age = (clock.now() - oldest).total_seconds()
    assert age >= 90
    assert value(samples, "scheduler_outbox_oldest_due_seconds") == pytest.approx(age)


def test_texts_by_outcome_and_error_code_after_a_dispatch(app, api, client, clinic):
    book(api, clinic, day=MONDAY, at="10:00")
    before = scrape(client)
    report = dispatch()  # the log-only sender: sent
    assert report.sent >= 1
    after = scrape(client)
    assert delta(after, before, "scheduler_texts_total", outcome="sent", error_code="") == report.sent
    assert value(after, "scheduler_outbox_messages", status="sent") == report.sent
    assert value(after, "scheduler_outbox_oldest_due_seconds") == 0

    class Refusing:
        sender_key = "refusing"

        def send(self, to, body, message_ref) -> SendResult:
            raise PermanentSmsError("invalid 'To' number", code=21211, http_status=400)

    book(api, clinic, session_type="integration", day=MONDAY, at="15:00")
    app.extensions["sms_sender"] = (Refusing(), None)
    try:
        failed = dispatch()
    finally:
        app.extensions.pop("sms_sender", None)
    assert failed.failed >= 1, failed
    later = scrape(client)
    assert delta(later, after, "scheduler_texts_total", outcome="failed", error_code="21211") == failed.failed
    assert value(later, "scheduler_outbox_messages", status="failed") == failed.failed


def test_webhook_backlog(api, client, clock, clinic):
    assert value(scrape(client), "scheduler_webhook_backlog") == 0
    sub = api.post("/webhook-subscriptions", json={"url": "https://hooks.example.com/hook", "events": ["*"]})
    assert sub.status_code == 201
    book(api, clinic, day=MONDAY, at="10:00")
    queued = webhook_delivery.enqueue(clock.now())
    db.session.commit()
    assert queued >= 1
    assert value(scrape(client), "scheduler_webhook_backlog") == queued


def test_calendar_sync_failures_and_failing_calendars(api, client, clinic, monkeypatch):
    def unreachable(*args, **kwargs):
        raise CalendarUnreachable("connection refused", "connect")

    monkeypatch.setattr(calendar_sync, "fetch_ics", unreachable)
    provider = api.get("/providers").get_json()["items"][0]["id"]
    cal = api.post(f"/providers/{provider}/external-calendars",
                   json={"kind": "ics", "url": "https://calendar.example.com/cal.ics"}).get_json()
    before = scrape(client)
    assert value(before, "scheduler_calendars_failing") == 0
    response = api.post(f"/providers/{provider}/external-calendars/{cal['id']}/sync")
    assert response.status_code == 502 and response.get_json()["code"] == "calendar_unreachable"
    after = scrape(client)
    assert delta(after, before, "scheduler_calendar_sync_failures_total") == 1
    assert value(after, "scheduler_calendars_failing") == 1


def test_multiprocess_mode_reads_the_workers_files(app, client, tmp_path, monkeypatch):
    """Under gunicorn the counters come from PROMETHEUS_MULTIPROC_DIR; the scrape still
    answers (with the database gauges) when that folder is set."""
    settings = app.extensions["settings"]
    app.extensions["settings"] = dataclasses.replace(settings, prometheus_multiproc_dir=str(tmp_path))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    try:
        samples = scrape(client)
    finally:
        app.extensions["settings"] = settings
    assert ("scheduler_webhook_backlog", ()) in samples
