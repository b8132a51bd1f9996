"""`make faults`: fault drills on the local services (not part of CI), each PASS or FAIL with
its figures; a summary goes between <!-- faults:start --> and <!-- faults:end --> in
BENCHMARKS.md and the figures to benchmarks/results/faults.json.

  a. PostgreSQL stopped and started again during a booking load (pg_ctlcluster 15 main):
     /readyz answers 503 while it is down, the service recovers by itself (pool_pre_ping),
     every 201's appointment exists afterwards, and the worker beats again.
  b. The worker SIGKILLed mid-dispatch under load (due texts, a fake Twilio answering after
     0.25 s) and started again: every text sent; duplicates at the fake counted.
  c. The fake Twilio answering 500 (code 20500) for 60 s: texts retried with back-off,
     none lost, none accepted twice, all sent after it recovers.
  d. A CalDAV server that accepts connections and never answers: the sync times out, the
     calendar records last_error, texts are still dispatched meanwhile; also the API's
     "sync now" against it.

Runs on FAULTS_DATABASE_URL (default scheduler_faults on 127.0.0.1; dropped and created,
dropped at the end). FAULTS_DRILLS=a,c picks drills. Every process started here is
stopped in a finally block, and PostgreSQL is started again if it is down at the end.
Drill a restarts the shared PostgreSQL server: other databases on it see a few seconds'
outage too.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import threading
import time
import traceback
from collections import Counter

import requests
from sqlalchemy import select, text, update

from benchmarks.clients import MIX, Recorder, mixed_clients
from benchmarks.clinic import booking_queue, fresh_clinic, setup_app
from benchmarks.fakes import HangingServer, ScriptedTwilio
from benchmarks.generate import TZ, UTC
from benchmarks.measure import ms
from benchmarks.pgadmin import database_url, drop_pg, ensure_postgres_running, pg_ctl
from benchmarks.processes import Gunicorn, Worker, service_environ, temporary_log, wait_until, worker_env
from benchmarks.report import RESULTS, load_average, machine, write_json, write_section

NO_PUBLIC = "http://127.0.0.1:9"  # the worker's PUBLIC_BASE_URL when no API runs (the fake never calls back)


class Ctx:
    """What the drills share: the database, the app for direct reads and writes, a key."""

    def __init__(self, url: str, today: dt.date):
        self.url, self.today = url, today
        self.app, self.headers, self.patients = setup_app(url)
        self.work = None  # distinct free slots, made once from /slots
        with self.app.app_context():
            from scheduler.extensions import db
            from scheduler.models import Patient

            # Texts may go out at any hour of the drill: no quiet hours (as tests/e2e do).
            db.session.execute(text("UPDATE locations SET quiet_start = '00:00', quiet_end = '00:00'"))
            db.session.commit()
            self.texting = list(db.session.execute(select(Patient.id, Patient.phone).where(
                Patient.sms_consent.is_(True), Patient.sms_opted_out.is_(False)).order_by(Patient.id)))
            db.session.remove()

    def sql(self, statement: str, **params):
        from scheduler.extensions import db

        with self.app.app_context():
            result = db.session.execute(text(statement), params)
            rows = result.all() if result.returns_rows else result.rowcount
            db.session.commit()
            db.session.remove()
        return rows

    def scalar(self, statement: str, **params):
        rows = self.sql(statement, **params)
        return rows[0][0] if rows else None

    def queue(self, base: str):
        if self.work is None:
            self.work = booking_queue(base, self.headers, self.today, self.patients)
        return self.work

    def due_texts(self, drill: str, count: int, void: bool = True) -> list[int]:
        """`count` texts due 10 minutes ago (ahead of any booking's), valid for a day, each to
        another consenting patient, with a unique body. Texts left planned by an earlier
        drill are voided first, so each drill's worker sends only its own and the bookings'."""
        from scheduler.extensions import db
        from scheduler.models import Message

        now = dt.datetime.now(UTC)
        with self.app.app_context():
            if void:
                db.session.execute(update(Message).where(Message.status.in_(("planned", "sending")))
                                   .values(status="voided", reason=f"voided before drill {drill}"))
            rows = [Message(patient_id=pid, kind="reminder", priority=20, to_phone=phone,
                            body=f"Santa Barbara Wellness: drill {drill} text #{i:04d}. Questions: (805) 555-0100.",
                            status="planned", dedupe_key=f"drill-{drill}:{i}", send_at=now - dt.timedelta(minutes=10),
                            stale_at=now + dt.timedelta(days=1))
                    for i, (pid, phone) in enumerate(self.texting[:count])]
            db.session.add_all(rows)
            db.session.commit()
            ids = [r.id for r in rows]
            db.session.remove()
        return ids

    def text_statuses(self, ids: list[int]) -> Counter:
        return Counter(dict(self.sql("SELECT status, count(*) FROM messages WHERE id = ANY(:ids) GROUP BY status",
                                     ids=ids)))

    def newest_beat(self):
        return self.scalar("SELECT max(beat_at) FROM heartbeats")

    def beat_of(self, worker: Worker):
        return worker.alive() and self.scalar("SELECT beat_at FROM heartbeats WHERE name = :n", n=worker.owner)


class Services:
    """A fake Twilio, optionally gunicorn -w 2, and worker processes: all stopped on exit."""

    def __init__(self, ctx: Ctx, api: bool = True):
        self.ctx, self.api = ctx, api
        self.fake = ScriptedTwilio()
        self.server = None
        self.workers: list[Worker] = []
        self.log_path = temporary_log("gunicorn-faults-")

    def __enter__(self) -> "Services":
        self.fake.start()
        try:
            if self.api:
                self.server = Gunicorn(self.ctx.url, self.log_path).__enter__()
        except BaseException:
            self.fake.stop()
            raise
        return self

    @property
    def base(self) -> str:
        return self.server.base if self.server else NO_PUBLIC

    def worker(self, name: str) -> Worker:
        w = Worker(worker_env(self.ctx.url, self.fake.base_url, self.base), name).start()
        self.workers.append(w)
        return w

    def gunicorn_log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __exit__(self, *exc) -> None:
        try:
            for w in self.workers:
                w.cleanup()
        finally:
            try:
                if self.server is not None:
                    self.server.__exit__()
            finally:
                self.fake.stop()
                self.log_path.unlink(missing_ok=True)


# -- a. PostgreSQL restarted during a booking load ---------------------------------------------------
def drill_postgres(ctx: Ctx) -> dict:
    out: dict = {}
    with Services(ctx) as s:
        worker = s.worker("faults-a-worker")
        work = ctx.queue(s.base)
        if not wait_until(lambda: ctx.beat_of(worker), 30):
            raise RuntimeError(f"worker did not beat\n{worker.output()}")
        ready: list[tuple[float, object]] = []
        stop = threading.Event()

        def poll_readyz():
            end = time.monotonic() + 180
            with requests.Session() as session:
                while not stop.is_set() and time.monotonic() < end:
                    try:
                        r = session.get(s.base + "/readyz", timeout=5)
                        ready.append((time.monotonic(), r.status_code))
                    except requests.RequestException as exc:
                        ready.append((time.monotonic(), type(exc).__name__))
                    time.sleep(0.2)

        poller = threading.Thread(target=poll_readyz, daemon=True)
        poller.start()
        rec = Recorder()
        clients = mixed_clients(s.base, ctx.headers, work, ctx.today, rec, 4, stop, 150,
                                mix=(("booking", 1.0),))
        try:
            time.sleep(5)  # booking load before the fault
            t_stop = time.monotonic()
            wall_stop = dt.datetime.now(UTC)
            stopped = pg_ctl("stop")
            t_down = time.monotonic()
            out["pg_stop"] = {"returncode": stopped.returncode, "seconds": round(t_down - t_stop, 2)}
            saw_503 = wait_until(lambda: any(t >= t_down and c == 503 for t, c in ready), 20, 0.1)
            time.sleep(3)  # stay down a little longer: the service must keep answering 503
        finally:
            t_start = time.monotonic()
            started = pg_ctl("start")
            ensure_postgres_running()
        t_up = time.monotonic()
        out["pg_start"] = {"returncode": started.returncode, "seconds": round(t_up - t_start, 2)}
        first_ok = wait_until(lambda: next((t for t, c in ready if t >= t_start and c == 200), None), 60, 0.1)
        first_201 = wait_until(lambda: next((r[3] for r in list(rec.rows) if r[3] >= t_start and r[1] == "201"),
                                            None), 60, 0.1)
        time.sleep(5)  # bookings after recovery
        stop.set()
        for t in clients:
            t.join(40)
        poller.join(10)
        beat_after = wait_until(lambda: (ctx.beat_of(worker) or wall_stop) > wall_stop + dt.timedelta(seconds=1), 45, 1)
        out["worker_alive_after"] = worker.alive()

    down = [c for t, c in ready if t_down <= t <= t_start]
    booked = rec.booked
    found = ctx.scalar("SELECT count(*) FROM appointments WHERE id = ANY(:ids)", ids=booked) if booked else 0
    phantoms = 0
    for body, _key in rec.failed_bookings:
        phantoms += ctx.scalar("SELECT count(*) FROM appointments WHERE patient_id = :p AND start_at = :s "
                               "AND status = 'booked'", p=body["patient_id"], s=dt.datetime.fromisoformat(body["start"]))
    recovered_at = first_ok or float("inf")
    out.update({
        "postgres_down_seconds": round(t_start - t_stop, 2),
        "readyz_while_down": dict(Counter(str(c) for c in down)),
        "readyz_503_seen": bool(saw_503),
        "readyz_200_seconds_after_start": round(first_ok - t_start, 2) if first_ok else None,
        "first_201_seconds_after_start": round(first_201 - t_start, 2) if first_201 else None,
        "bookings": {"answered_201": len(booked), "201_ids_found": found,
                     "before_stop": sum(1 for r in rec.rows if r[1] == "201" and r[3] < t_stop),
                     "after_start": sum(1 for r in rec.rows if r[1] == "201" and r[3] >= t_start)},
        "errors_during_outage": dict(rec.errors(t_stop, recovered_at + 1)),
        "errors_outside_outage": dict(rec.errors(hi=t_stop) + rec.errors(lo=recovered_at + 1)),
        "errored_bookings_committed_anyway": phantoms,
        "worker_beat_after_restart": bool(beat_after),
    })
    out["pass"] = bool(saw_503 and first_ok and first_201 and found == len(booked) and booked
                       and not out["errors_outside_outage"] and out["worker_alive_after"] and beat_after)
    out["summary"] = (
        f"PostgreSQL down {out['postgres_down_seconds']} s; /readyz while down: {out['readyz_while_down']}; "
        f"/readyz 200 again {out['readyz_200_seconds_after_start']} s and first 201 "
        f"{out['first_201_seconds_after_start']} s after `pg_ctlcluster start` was issued; "
        f"{len(booked)} bookings answered 201 ({out['bookings']['before_stop']} before, "
        f"{out['bookings']['after_start']} after), {found} found afterwards; errors during the outage "
        f"{out['errors_during_outage']}, outside it {out['errors_outside_outage'] or 0}; errored bookings "
        f"committed anyway: {phantoms}; worker beat again: {bool(beat_after)}")
    return out


# -- b. worker SIGKILLed mid-dispatch under load ------------------------------------------------------
B_TEXTS = 150


def drill_worker_kill(ctx: Ctx) -> dict:
    out: dict = {}
    with Services(ctx) as s:
        s.fake.delay = 0.25  # every answer takes 0.25 s: the kill lands with sends in flight
        work = ctx.queue(s.base)
        rec, stop = Recorder(), threading.Event()
        clients = mixed_clients(s.base, ctx.headers, work, ctx.today, rec, 4, stop, 240, mix=MIX)
        try:
            ids = ctx.due_texts("b", B_TEXTS)
            victim = s.worker("faults-b-victim")

            def mid_dispatch():
                """Held rows, some sent, and a request for a held row at the fake, unanswered."""
                held = {r[0] for r in ctx.sql("SELECT id FROM messages WHERE id = ANY(:ids) AND status = 'sending' "
                                              "AND lease_owner = :o", ids=ids, o=victim.owner)}
                sent = ctx.scalar("SELECT count(*) FROM messages WHERE id = ANY(:ids) AND status = 'sent' "
                                  "AND lease_owner = :o", ids=ids, o=victim.owner)
                return len(held) >= 4 and sent >= 4 and held & set(s.fake.refs())

            caught = wait_until(mid_dispatch, 90, 0.02)
            if not caught:
                raise RuntimeError(f"the worker never was mid-dispatch\n{victim.output()}")
            victim.kill()
            t_kill = time.monotonic()
            held = [r[0] for r in ctx.sql("SELECT id FROM messages WHERE id = ANY(:ids) AND status = 'sending' "
                                          "AND lease_owner = :o", ids=ids, o=victim.owner)]
            sent_by_victim = ctx.scalar("SELECT count(*) FROM messages WHERE id = ANY(:ids) AND status = 'sent'",
                                        ids=ids)
            time.sleep(0.5)  # a request already written may be read by the fake a moment later
            in_flight = sorted(set(held) & set(s.fake.refs()))
            replacement = s.worker("faults-b-replacement")
            # The dead worker's leases would end after 5 minutes (dispatch.LEASE); rather than
            # wait, move them into the past: exactly the state 5 minutes later.
            expired = ctx.sql("UPDATE messages SET lease_until = now() - interval '1 second' "
                              "WHERE status = 'sending' AND lease_owner = :o", o=victim.owner)
            all_sent = wait_until(lambda: ctx.text_statuses(ids).get("sent") == len(ids), 150, 0.5)
            t_done = time.monotonic()
        finally:
            stop.set()
            for t in clients:
                t.join(40)
        out["replacement_alive"] = replacement.alive()
        statuses = ctx.text_statuses(ids)
        refs = s.fake.refs()
        accepted = Counter(m["body"] for m in list(s.fake.messages))
        bodies = dict(ctx.sql("SELECT id, body FROM messages WHERE id = ANY(:ids)", ids=ids))
        twice = sorted(i for i in ids if accepted[bodies[i]] > 1)
        missing = sorted(i for i in ids if accepted[bodies[i]] == 0)
        requested_twice = sorted(i for i in ids if refs[i] > 1)
        out.update({
            "texts": len(ids), "fake_delay_seconds": 0.25,
            "victim_held_when_killed": len(held), "victim_sent_before_kill": sent_by_victim,
            "victim_in_flight_at_the_fake": len(in_flight), "leases_expired_by_hand": expired,
            "all_sent": bool(all_sent), "seconds_from_kill_to_all_sent": round(t_done - t_kill, 1),
            "statuses": dict(statuses), "never_accepted_by_fake": missing,
            "accepted_twice_by_fake": twice, "requested_twice": requested_twice,
            "duplicates_within_in_flight": set(twice) <= set(in_flight),
            "load": rec.by_endpoint(), "load_errors": dict(rec.errors()),
        })
    out["pass"] = bool(all_sent and not missing and set(twice) <= set(in_flight) and len(twice) <= 4
                       and not out["load_errors"] and out["replacement_alive"])
    out["summary"] = (
        f"{len(ids)} due texts, fake answering after 0.25 s, booking/search load from 4 clients; SIGKILL "
        f"while the worker held {len(held)} rows ({len(in_flight)} of them in flight at the fake, "
        f"{sent_by_victim} already sent); replacement started at once, the dead worker's {expired} leases "
        f"expired by hand (instead of waiting 5 min); all sent: {bool(all_sent)} "
        f"({out['seconds_from_kill_to_all_sent']} s after the kill), lost: {len(missing)}, "
        f"accepted twice by the fake: {len(twice)} (all among the in-flight ones: "
        f"{out['duplicates_within_in_flight']}); load errors: {out['load_errors'] or 0}")
    return out


# -- c. Twilio answering 500 for a minute -------------------------------------------------------------
C_TEXTS, C_OUTAGE, C_LIMIT = 40, 60.0, 300.0


def drill_twilio_500(ctx: Ctx) -> dict:
    out: dict = {}
    with Services(ctx, api=False) as s:
        worker = s.worker("faults-c-worker")
        if not wait_until(lambda: ctx.beat_of(worker), 30):
            raise RuntimeError(f"worker did not start\n{worker.output()}")
        t0 = time.monotonic()
        s.fake.fail_until = t0 + C_OUTAGE
        ids = ctx.due_texts("c", C_TEXTS)
        progress = []

        def done():
            st = ctx.text_statuses(ids)
            progress.append((round(time.monotonic() - t0, 1), st.get("sent", 0)))
            return st.get("sent") == len(ids) or st.get("failed")

        finished = wait_until(done, C_LIMIT, 1.0)
        t_done = time.monotonic()
        out["worker_alive"] = worker.alive()
        fake = s.fake
        statuses = ctx.text_statuses(ids)
        attempts = Counter(r[0] for r in ctx.sql("SELECT attempts FROM messages WHERE id = ANY(:ids)", ids=ids))
        accepted = Counter(m["body"] for m in list(fake.messages))
        bodies = dict(ctx.sql("SELECT id, body FROM messages WHERE id = ANY(:ids)", ids=ids))
        refs = fake.refs()
    last_sent = ctx.scalar("SELECT max(sent_at) FROM messages WHERE id = ANY(:ids)", ids=ids)
    first_sent = ctx.scalar("SELECT min(sent_at) FROM messages WHERE id = ANY(:ids)", ids=ids)
    doubled = sorted(i for i in ids if accepted[bodies[i]] > 1)
    lost = sorted(i for i in ids if accepted[bodies[i]] == 0)
    out.update({
        "texts": len(ids), "outage_seconds": C_OUTAGE, "statuses": dict(statuses),
        "attempts_per_text": dict(sorted(attempts.items())),
        "requests_to_fake": sum(refs[i] for i in ids), "answered_500": fake.answers["500"],
        "seconds_from_outage_start_to_all_sent": round(t_done - t0, 1) if finished else None,
        "sent_window_utc": [str(first_sent), str(last_sent)],
        "accepted_twice": doubled, "never_accepted": lost,
        "progress_sent_by_second": progress[::10],
    })
    out["pass"] = bool(statuses.get("sent") == len(ids) and not doubled and not lost
                       and all(a > 1 for a in attempts.elements()) and out["worker_alive"])
    out["summary"] = (
        f"{len(ids)} due texts, every request answered 500 (Twilio 20500) for {C_OUTAGE:g} s: "
        f"{fake.answers['500']} answers 500, attempts per text {out['attempts_per_text']}; all sent "
        f"{out['seconds_from_outage_start_to_all_sent']} s after the outage began "
        f"(back-off 15-30 s, 30-60 s, 60-120 s ..., dispatch every 15 s); lost {len(lost)}, "
        f"accepted twice {len(doubled)}")
    return out


# -- d. A CalDAV server that hangs -------------------------------------------------------------------
D_TEXTS, D_LATER, D_LIMIT = 30, 10, 90.0
GUNICORN_TIMEOUT = 30  # gunicorn's default --timeout; processes.Gunicorn and the README's command keep it


def drill_caldav_hang(ctx: Ctx) -> dict:
    with HangingServer() as hang:
        # The services exempt the local hanging server as an operator would: OUTBOUND_ALLOWED_HOSTS.
        os.environ["OUTBOUND_ALLOWED_HOSTS"] = f"127.0.0.1:{hang.port}"
        try:
            return _caldav_hang(ctx, hang)
        finally:
            del os.environ["OUTBOUND_ALLOWED_HOSTS"]


def _caldav_hang(ctx: Ctx, hang: HangingServer) -> dict:
    from scheduler.services.calendars.external_calendars import TIMEOUT

    out: dict = {"timeout_setting_seconds": TIMEOUT}
    with Services(ctx) as s:
        url = f"http://127.0.0.1:{hang.port}/dav/drill/calendar/"
        r = requests.post(f"{s.base}/api/v1/providers/1/external-calendars", headers=ctx.headers, timeout=30,
                          json={"kind": "caldav", "url": url, "username": "drill", "password": "drill-password"})
        if r.status_code != 201:
            raise RuntimeError(f"linking the calendar: {r.status_code} {r.text[:300]}")
        cal_id = r.json()["id"]
        ids = ctx.due_texts("d", D_TEXTS)
        worker = s.worker("faults-d-worker")  # its first runs: every job at once, the sync included

        def claimed():
            return ctx.scalar("SELECT lease_owner FROM external_calendars WHERE id = :i", i=cal_id)

        if not wait_until(claimed, 30, 0.1):
            raise RuntimeError(f"the worker did not take the calendar\n{worker.output()}")
        t_claim = time.monotonic()
        wall_claim = dt.datetime.now(UTC)
        later: list[int] = []  # texts due only after the sync began: sent by a later dispatch run
        api_during = []
        while time.monotonic() - t_claim < D_LIMIT:
            if ctx.scalar("SELECT last_error FROM external_calendars WHERE id = :i", i=cal_id):
                break
            if not later and time.monotonic() - t_claim > 2:
                later = ctx.due_texts("d2", D_LATER, void=False)
            if len(api_during) < 5 and time.monotonic() - t_claim > 2:  # the API meanwhile
                t = time.perf_counter()
                code = requests.get(f"{s.base}/readyz", timeout=30).status_code
                api_during.append((code, ms(time.perf_counter() - t, 1)))
            time.sleep(0.25)
        t_error = time.monotonic()
        row = ctx.sql("SELECT last_error, failures, next_sync_at, last_error_at FROM external_calendars "
                      "WHERE id = :i", i=cal_id)[0]
        sent_before_sync_failed = ctx.text_statuses(ids).get("sent", 0)
        later_sent = ctx.text_statuses(later).get("sent", 0) if later else 0
        beat_during = bool(ctx.scalar("SELECT count(*) FROM heartbeats WHERE name = :n AND beat_at > :t",
                                      n=worker.owner, t=wall_claim + dt.timedelta(seconds=1)))
        ready = requests.get(f"{s.base}/readyz", timeout=30).json()
        out["worker_sync"] = {
            "seconds": round(t_error - t_claim, 1), "last_error": row[0], "failures": row[1],
            "next_sync_at": str(row[2]), "connections_to_hanging_server": len(hang.accepted),
            "texts_sent_while_it_hung": sent_before_sync_failed, "of_texts": len(ids),
            "texts_due_after_it_began_sent_while_it_hung": later_sent, "of_later_texts": len(later),
            "heartbeat_while_it_hung": beat_during,
            "api_readyz_while_it_hung": api_during, "readyz_after": ready}
        # The API's "sync now" against the same server, while other requests go on.
        side: list = []
        stop = threading.Event()

        def others():
            with requests.Session() as session:
                end = time.monotonic() + 120
                while not stop.is_set() and time.monotonic() < end:
                    t = time.perf_counter()
                    try:
                        code = session.get(f"{s.base}/api/v1/locations", headers=ctx.headers, timeout=30).status_code
                    except requests.RequestException as exc:
                        code = type(exc).__name__
                    side.append((code, time.perf_counter() - t))
                    time.sleep(0.5)

        other = threading.Thread(target=others, daemon=True)
        other.start()
        t = time.perf_counter()
        try:
            resp = requests.post(f"{s.base}/api/v1/providers/1/external-calendars/{cal_id}/sync",
                                 headers=ctx.headers, timeout=90)
            sync_now = {"status": resp.status_code, "code": (resp.json() if resp.headers.get(
                "Content-Type", "").startswith("application/json") else {}).get("code")}
        except requests.RequestException as exc:
            sync_now = {"status": None, "exception": type(exc).__name__}
        sync_now["seconds"] = round(time.perf_counter() - t, 1)
        stop.set()
        other.join(35)
        sync_now["other_requests"] = dict(Counter(str(c) for c, _ in side))
        sync_now["other_requests_max_ms"] = ms(max((d for _, d in side), default=None), 1)
        log = s.gunicorn_log()
        sync_now["gunicorn_worker_timeouts"] = log.count("WORKER TIMEOUT")
        out["api_sync_now"] = sync_now
        out["worker_alive"] = worker.alive()
        out["texts_all_sent_at_end"] = ctx.text_statuses(ids + later).get("sent", 0) == len(ids + later)
    ws = out["worker_sync"]
    timed_out = bool(ws["last_error"]) and "timed out" in ws["last_error"]
    worker_ok = (timed_out and ws["seconds"] <= 2 * TIMEOUT + 10 and ws["texts_sent_while_it_hung"] == len(ids)
                 and ws["texts_due_after_it_began_sent_while_it_hung"] == ws["of_later_texts"] > 0
                 and ready["status"] == "degraded" and out["worker_alive"])
    # gunicorn's default --timeout (30 s, which the README's command keeps) kills a sync worker that
    # has not answered by then: "sync now" must answer well inside it, or it races the kill.
    api_ok = sync_now.get("status") == 502 and sync_now["seconds"] < GUNICORN_TIMEOUT - 5 \
        and not sync_now["gunicorn_worker_timeouts"] and set(sync_now["other_requests"]) <= {"200"}
    out["worker_path_pass"], out["api_sync_now_pass"] = worker_ok, api_ok
    out["pass"] = worker_ok and api_ok
    verdict = {True: "PASS", False: "FAIL"}
    out["summary"] = (
        f"[worker path {verdict[worker_ok]}, API sync now {verdict[api_ok]}] "
        f"worker's sync of the hanging calendar ended after {ws['seconds']} s (TIMEOUT {TIMEOUT:g} s; "
        f"{ws['connections_to_hanging_server']} connections made) with last_error {ws['last_error']!r}, "
        f"next try {ws['next_sync_at']}; while it hung: {ws['texts_sent_while_it_hung']}/{len(ids)} due texts sent, "
        f"{ws['texts_due_after_it_began_sent_while_it_hung']}/{ws['of_later_texts']} texts due only after it began "
        f"sent by a later dispatch run, heartbeat: {ws['heartbeat_while_it_hung']}; /readyz meanwhile {[c for c, _ in ws['api_readyz_while_it_hung']]}, after: "
        f"{ready['status']} {ready['checks'].get('calendars')}. API sync now: {sync_now.get('status')} "
        f"{sync_now.get('code') or sync_now.get('exception') or ''} after {sync_now['seconds']} s (gunicorn's "
        f"--timeout: {GUNICORN_TIMEOUT} s), gunicorn WORKER TIMEOUTs {sync_now['gunicorn_worker_timeouts']}, other requests meanwhile "
        f"{sync_now['other_requests']} (max {sync_now['other_requests_max_ms']} ms)")
    return out


# -- the run -------------------------------------------------------------------------------------------
DRILLS = {"a": ("PostgreSQL restarted during a booking load", drill_postgres),
          "b": ("worker SIGKILLed and restarted during dispatch under load", drill_worker_kill),
          "c": ("Twilio answering 500 for a minute", drill_twilio_500),
          "d": ("CalDAV server hanging", drill_caldav_hang)}


def main(argv=None) -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    url = database_url("FAULTS_DATABASE_URL", "scheduler_faults")
    wanted = [d.strip() for d in os.environ.get("FAULTS_DRILLS", "a,b,c,d").split(",") if d.strip()]
    today = dt.datetime.now(TZ).date()
    started = time.monotonic()
    report = {"machine": machine(url), "drills": {}}
    service_environ()
    try:
        fresh_clinic(url, today)
        ctx = Ctx(url, today)
        for key in wanted:
            title, drill = DRILLS[key]
            print(f"faults: drill {key}: {title} ...", file=sys.stderr, flush=True)
            t0 = time.monotonic()
            try:
                result = drill(ctx)
            except Exception as exc:  # a broken drill is a FAIL with its reason, the others still run
                result = {"pass": False, "summary": f"drill error: {exc!r}"[:1500],
                          "traceback": traceback.format_exc()[-3000:]}
            finally:
                ensure_postgres_running()
            result["title"], result["seconds"] = title, round(time.monotonic() - t0, 1)
            result["ran_at"] = dt.datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
            result["load_average_after"] = load_average()
            report["drills"][key] = result
            print(f"{'PASS' if result['pass'] else 'FAIL'} {key}. {title} ({result['seconds']} s): "
                  f"{result['summary']}", flush=True)
    finally:
        ensure_postgres_running()
        try:
            drop_pg(url)
        except Exception as exc:
            print(f"faults: could not drop {url}: {exc}", file=sys.stderr)
    report["machine"]["load_average_at_end"] = load_average()
    report["total_seconds"] = round(time.monotonic() - started, 1)
    # A partial run (FAULTS_DRILLS) keeps the other drills' last recorded results.
    previous = RESULTS / "faults.json"
    if set(wanted) != set(DRILLS) and previous.exists():
        kept = json.loads(previous.read_text()).get("drills", {})
        report["drills"] = {k: report["drills"].get(k) or kept[k] for k in DRILLS
                            if k in report["drills"] or k in kept}
    write_json("faults", report)
    write_section("faults", markdown(report))
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "traceback"} for k, v in report["drills"].items()},
                     indent=2, default=str), file=sys.stderr)
    failed = [k for k in wanted if not report["drills"][k]["pass"]]
    if failed:
        raise SystemExit(f"faults: FAIL in drill(s) {', '.join(failed)}")


def markdown(r: dict) -> str:
    m = r["machine"]
    lines = ["## Fault drills (`make faults`)", "",
             "Written by `make faults` (`benchmarks/faults.py`, not part of CI) from its last real run; the "
             "figures are in `benchmarks/results/faults.json`. Local services only: PostgreSQL 15 on "
             "127.0.0.1 (the standard clinic), gunicorn -w 2, `flask --app wsgi worker`, a recording fake "
             "Twilio (`tests/support/fake_twilio.py`) and a TCP server that never answers. Quiet hours are "
             "switched off for the drill's locations (texts may go out at any hour of the run).", "",
             f"- {m['nproc']} cores, {m['cpu']}; PostgreSQL {m['postgresql']}; {m['date']}, commit "
             f"{m['commit'] or 'unknown'}; load average at start {' / '.join(map(str, m['load_average_at_start']))}, "
             f"at end {' / '.join(map(str, m['load_average_at_end']))} (other test runs shared the machine); "
             f"{r['total_seconds']} s in all (the last run; a run of some drills keeps the others' rows)", "",
             "| drill | result | run | figures |", "|---|---|---|---|"]
    for key, d in r["drills"].items():
        after = f", load average after {d['load_average_after'][0]}" if d.get("load_average_after") else ""
        lines.append(f"| {key}. {d['title']} | {'PASS' if d['pass'] else '**FAIL**'} | {d.get('ran_at', '')}, "
                     f"{d['seconds']} s{after} | {d['summary'].replace('|', '/')} |")
    lines += ["", "Method notes:", "",
              "- a: 4 client threads booking distinct free slots; `pg_ctlcluster 15 main stop` (fast mode), kept "
              "down until /readyz has answered 503 and 3 s more, then `start`; /readyz polled every 0.2 s. "
              "\"Errored bookings committed anyway\" looks up every non-201 booking in the database afterwards.",
              "- b: the kill comes once the worker holds >= 4 claimed rows, has sent >= 4, and the fake has "
              "received (and not yet answered) a request for one of the held rows; \"in flight\" = held rows "
              "whose request the fake had received by then. No status callbacks are delivered, so an in-flight "
              "text that Twilio accepted is sent again once its lease ends (by design); the leases are moved into "
              "the past by SQL instead of waiting 5 minutes. How many are in flight depends on where the kill "
              "lands (0 to 4, the dispatch concurrency).",
              "- c: the fake answers HTTP 500 with Twilio error 20500 to every request for 60 s; the worker's "
              "real clock drives the back-off.",
              "- d: the worker's calendar job and the API's `POST .../external-calendars/{id}/sync` against a TCP "
              "server that accepts and never answers; a first batch of texts is due when the worker starts, a "
              "second becomes due 2 s into the hang (so only a later dispatch run can send it)."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
