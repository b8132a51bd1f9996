"""Prometheus metrics at /metrics: request latency, bookings and refusals, the outbox,
texts sent and failed, calendar sync failures, the webhook backlog.

Counters live in the process; under gunicorn set PROMETHEUS_MULTIPROC_DIR (read by
prometheus_client itself) so every worker's counts are summed. Depths and ages are read
from the database at each scrape, so they are the same whichever process answers.
"""
import time

from flask import Blueprint, Response, current_app, g, has_app_context, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import event, func, select

REQUEST_LATENCY = Histogram("scheduler_http_request_duration_seconds", "HTTP request latency",
                            ["endpoint", "method"], buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))
REQUESTS = Counter("scheduler_http_requests_total", "HTTP requests", ["endpoint", "method", "status"])
BOOKINGS = Counter("scheduler_bookings_total", "Booking attempts by result (booked or the 409 code)",
                   ["result"])
TEXTS = Counter("scheduler_texts_total", "Texts by outcome and Twilio error code", ["outcome", "error_code"])
CALENDAR_FAILURES = Counter("scheduler_calendar_sync_failures_total", "Failed calendar syncs")

bp = Blueprint("metrics", __name__)


class DatabaseCollector:
    """Outbox depth by status, age of the oldest due text, webhook backlog, failing calendars."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        from .extensions import db
        from .models import ExternalCalendar, Message, WebhookDelivery

        with self.app.app_context():
            now = self.app.extensions["clock"].now()
            depth = GaugeMetricFamily("scheduler_outbox_messages", "Texts in the outbox by status",
                                      labels=["status"])
            for status, count in db.session.execute(select(Message.status, func.count()).group_by(Message.status)):
                depth.add_metric([status], count)
            yield depth
            oldest = db.session.scalar(select(func.min(Message.send_at)).where(
                Message.status == "planned", Message.send_at <= now))
            yield GaugeMetricFamily("scheduler_outbox_oldest_due_seconds",
                                    "Age of the oldest text that is due and not sent",
                                    value=(now - oldest).total_seconds() if oldest else 0)
            yield GaugeMetricFamily("scheduler_webhook_backlog", "Webhook deliveries pending",
                                    value=db.session.scalar(select(func.count()).select_from(WebhookDelivery)
                                                            .where(WebhookDelivery.status == "pending")) or 0)
            yield GaugeMetricFamily("scheduler_calendars_failing", "External calendars whose last sync failed",
                                    value=db.session.scalar(select(func.count()).select_from(ExternalCalendar)
                                                            .where(ExternalCalendar.last_error.is_not(None))) or 0)
            db.session.remove()


def _exposition() -> bytes:
    """This process's counters (or all workers', in multiprocess mode), then the database's."""
    from prometheus_client import REGISTRY, multiprocess

    if current_app.extensions["settings"].prometheus_multiproc_dir:
        counters = CollectorRegistry()
        multiprocess.MultiProcessCollector(counters)
    else:
        counters = REGISTRY
    from_db = CollectorRegistry()
    from_db.register(DatabaseCollector(current_app._get_current_object()))
    return generate_latest(counters) + generate_latest(from_db)


@bp.get("/metrics")
def metrics():
    # content_type, not mimetype: Werkzeug would add a second "; charset=utf-8".
    return Response(_exposition(), content_type=CONTENT_TYPE_LATEST)


metrics.allowed_roles = frozenset({"public"})


def after(response):
    endpoint = request.endpoint or "unmatched"
    if endpoint != "metrics.metrics":
        REQUEST_LATENCY.labels(endpoint, request.method).observe(time.perf_counter() - g.get("started", time.perf_counter()))
        REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
    if endpoint == "appointments.Appointments" and request.method == "POST":
        if response.status_code == 201:
            BOOKINGS.labels("booked").inc()
        elif response.status_code == 409:
            BOOKINGS.labels((response.get_json(silent=True) or {}).get("code", "conflict")).inc()
    return response


# What count_per_request counts, by engine event, and the response header that carries it.
PER_REQUEST_HEADERS = {"before_cursor_execute": "X-Statement-Count", "checkout": "X-Pool-Checkouts",
                       "begin": "X-Transaction-Count"}


def count_per_request(app) -> None:
    """BENCH_COUNT_STATEMENTS: every response says how many SQL statements, pool checkouts and
    transactions its request made, counted in the process that served it (so a benchmark can
    read them through gunicorn). Installed by create_app only when the setting is on."""
    from .extensions import db

    def counter(name):
        def count(*_args):
            if has_app_context() and "request_counts" in g:
                g.request_counts[name] += 1
        return count

    with app.app_context():
        for name in PER_REQUEST_HEADERS:
            event.listen(db.engine, name, counter(name))

    def reset():
        g.request_counts = dict.fromkeys(PER_REQUEST_HEADERS, 0)

    def stamp(response):
        for name, header in PER_REQUEST_HEADERS.items():
            response.headers[header] = str(g.get("request_counts", {}).get(name, 0))
        return response

    # First before and last after every other hook: authentication's queries count too.
    app.before_request_funcs.setdefault(None, []).insert(0, reset)
    app.after_request_funcs.setdefault(None, []).insert(0, stamp)
