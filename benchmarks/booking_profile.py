"""Where a booking's time goes: the same bookings in-process (Flask test client, PostgreSQL)
under cProfile, with the SQL statements of one booking counted on the engine. `make bench`
runs it when the throughput target is missed, on slots the throughput run left free."""
from __future__ import annotations

from benchmarks.app import api_key, dispose, make_app
from benchmarks.booking_throughput import TARGET_PER_SECOND
from benchmarks.measure import count_statements, request_profile
from benchmarks.report import joined, part, profile_lines

PROFILED_BOOKINGS = 42
PARTS = {
    ("scheduler/services/scheduling/booking.py", "_book"): "booking service (one transaction)",
    ("scheduler/services/scheduling/booking.py", "_lock_resources"): "  of which locks (location, its providers)",
    ("scheduler/services/scheduling/booking.py", "_evaluate"): "  of which the rules (snapshot + check_start)",
    ("scheduler/services/messaging/outbox.py", "plan_booked"): "  of which planning the reminders (outbox)",
    ("scheduler/services/platform/audit.py", "record"): "  of which the audit entry",
    ("sqlalchemy/orm/session.py", "commit"): "  of which the commit",
    ("flask_smorest/response.py", "wrapper"): "view + response (incl. the service)",
    ("scheduler/api/auth.py", "current_caller"): "API key check"}


def profile(url: str, bodies: list[dict]) -> dict:
    """One warm-up booking, one counted, the rest profiled."""
    from scheduler.extensions import db

    app = make_app(url)
    headers = {"Authorization": f"Bearer {api_key(app, 'bench profile')}"}
    client = app.test_client()
    todo = iter(bodies)
    statuses = []

    def one():
        statuses.append(client.post("/api/v1/appointments", json=next(todo), headers=headers).status_code)

    one()  # warm-up
    with app.app_context(), count_statements(db.engine) as counter:
        counter["n"] = 0
        one()
        per_booking = counter["n"]
    result = request_profile(one, len(bodies) - 2, PARTS)
    result["sql_statements_per_booking"] = per_booking
    result["statuses"] = {str(s): statuses.count(s) for s in sorted(set(statuses))}
    dispose(app)
    return result


def markdown_lines(r: dict) -> list[str]:
    return profile_lines("Where a booking's time goes (cProfile, in-process, PostgreSQL)",
                         r["booking_profile_postgresql"], reading(r))


def reading(r: dict) -> str:
    """What the booking figures and profile say, from this run's figures."""
    b, p, m = r["booking_throughput"], r["booking_profile_postgresql"], r["machine"]
    labels = list(PARTS.values())
    locks, rules, outbox, commit = (part(p, labels[i]) for i in (1, 2, 3, 5))
    cpu = b["cpu_ms_per_booking"]["gunicorn_workers"]
    worker_wall = 2 * 1000 / max(b["bookings_per_second"], 0.1)
    return (
        f"Reading: {b['bookings_per_second']} bookings/s with the machine's cores {b['machine_cpu_busy']:.0%} busy "
        f"(load average {joined(m['load_average_at_start'])} at the start; other jobs share "
        f"the machine). The gunicorn workers used {cpu} ms of CPU per booking, {cpu * b['bookings_per_second'] / 1000:.2f} "
        f"of the 2 cores at this rate, while each worker spent about {worker_wall:.0f} ms of wall time per booking "
        f"(2 workers / the rate): most of a booking's time in a worker is waiting, on PostgreSQL's "
        f"{p.get('sql_statements_per_booking', '?')} statements (each a round trip) and commit, and for CPU taken by "
        "everything else on the two cores (PostgreSQL itself, the client threads, other jobs). Two cores reach "
        f"{TARGET_PER_SECOND} bookings a second only if a booking's CPU everywhere (worker, PostgreSQL, "
        f"client) stays under 20 ms; the workers alone use {cpu} ms. Inside one request (in-process, profiled) the "
        f"rules are the largest part ({rules['share']:.0%}, {rules['ms_per_request']} ms: the snapshot of the "
        f"location and its providers over the day before and after, then `check_start`), then planning the "
        f"reminders ({outbox['share']:.0%}), the commit ({commit['share']:.0%}) and the locks "
        f"({locks['share']:.0%}: cheap). Where more would come from: fewer statements (the snapshot's small tables "
        "in one query, the outbox rows in one insert), a snapshot of only the affected day, and more cores (gunicorn "
        "workers scale until the per-location row lock serialises bookings at one location).")
