"""The front desk's day board with a busy day: server time per render, through the Flask
test client on SQLite (`python -m benchmarks.desk_board`; prints JSON).

A location-day holds APPOINTMENTS sessions (dosing, integration, consultation, booked
through the booking service); the board is rendered RUNS times after one warm-up, and
the median and p95 (wall clock), the median CPU time of this process (which a busy
machine cannot inflate) and SQL statements per render are reported.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
import time

from benchmarks.app import make_app
from benchmarks.measure import count_statements, median, ms, percentile

APPOINTMENTS = int(os.environ.get("DESK_BENCH_APPOINTMENTS", "60"))
RUNS = int(os.environ.get("DESK_BENCH_RUNS", "50"))


def main() -> dict:
    from flask_migrate import upgrade

    from scheduler.extensions import db
    from scheduler.services.platform.api_keys import create_api_key
    from tests.conftest import NOW
    from tests.support.desk_clinic import DAY, seed_busy_day

    with tempfile.TemporaryDirectory() as folder:
        app = make_app(f"sqlite:///{folder}/desk.sqlite3", NOW)
        with app.app_context():
            upgrade()
            from scheduler.services.clinic.session_types import seed_session_types

            seed_session_types()
            db.session.commit()
            booked = seed_busy_day(APPOINTMENTS, NOW)
            location_id = booked[0].location_id
            _row, key = create_api_key("bench desk", "front_desk")
        client = app.test_client()
        page = client.get("/desk/sign-in").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        client.post("/desk/sign-in", data={"api_key": key, "csrf_token": token})
        url = f"/desk/board?location_id={location_id}&date={DAY.isoformat()}"
        first = client.get(url)
        assert first.status_code == 200, first.status_code
        drawn = len(re.findall(r'id="block-room-', first.get_data(as_text=True)))
        times, cpu = [], []
        for _ in range(RUNS):
            started, started_cpu = time.perf_counter(), time.process_time()
            response = client.get(url)
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)  # what other processes on the machine cannot inflate
            assert response.status_code == 200
        with app.app_context():
            with count_statements(db.engine) as statements:
                client.get(url)
        result = {"appointments": len(booked), "drawn_in_rooms": drawn, "runs": RUNS,
                  "median_ms": ms(median(times)), "p95_ms": ms(percentile(times, 95)),
                  "cpu_median_ms": ms(median(cpu)),
                  "statements_per_render": statements["n"], "html_kb": round(len(first.data) / 1024, 1)}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
