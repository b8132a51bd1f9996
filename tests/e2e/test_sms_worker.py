"""The worker as production runs it: `flask --app wsgi worker` in its own process(es), on the
test database, sending to a recording fake Twilio (issue 4, "never lost, never twice").

A worker process runs on the system clock, so its texts are rows due a minute before the
real now, valid for a day, for a location with no quiet hours (the test may run at any hour).
Every wait polls the database against a deadline; every process is killed in `finally`.
"""
from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from scheduler.extensions import db
from scheduler.models import Heartbeat, Message
from tests.support.fake_twilio import FakeTwilio
from tests.support.sms import (
    ACCOUNT_SID, AUTH_TOKEN, FROM, PUBLIC, add_message, messages, sms_clinic, status_callback,
    twilio_settings,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 60.0  # seconds, for any one wait
UTC = dt.timezone.utc


def worker_env(database_url: str, fake: FakeTwilio) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")}
    env.update(DATABASE_URL=database_url, SECRET_KEY="worker-test-secret-key-0123456789",
               TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN,
               TWILIO_FROM_NUMBER=FROM, TWILIO_API_BASE_URL=fake.base_url,
               PUBLIC_BASE_URL=PUBLIC, SCHEDULER_EMBEDDED="false",
               SMS_RATE_PER_SECOND="1000", LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1")
    return env


class Workers:
    """Worker subprocesses, their output in files (a full pipe would block them)."""

    def __init__(self, database_url: str, fake: FakeTwilio):
        self.env = worker_env(database_url, fake)
        self.procs: list[subprocess.Popen] = []
        self.logs = tempfile.TemporaryDirectory()

    def start(self) -> subprocess.Popen:
        log = open(Path(self.logs.name) / f"worker-{len(self.procs)}.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
                                cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.procs.append(proc)
        return proc

    @staticmethod
    def owner(proc: subprocess.Popen) -> str:
        return f"{socket.gethostname()}:{proc.pid}"  # scheduler.jobs.heartbeat.WORKER_NAME

    def output(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                         for p in sorted(Path(self.logs.name).glob("*.log")))

    def check_alive(self, *procs) -> None:
        for proc in procs or self.procs:
            assert proc.poll() is None, f"worker {proc.pid} exited {proc.returncode}\n{self.output()}"

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.logs.cleanup()


@pytest.fixture
def fake(app):
    # The test's own app signs and receives Twilio callbacks with the same token.
    with FakeTwilio() as server, twilio_settings(app, server.base_url):
        yield server


@pytest.fixture
def workers(app, database_url, fake):
    procs = Workers(database_url, fake)
    try:
        yield procs
    finally:
        procs.stop()


def due_texts(count: int) -> list[int]:
    clinic = sms_clinic(quiet_start="00:00", quiet_end="00:00")  # no quiet hours
    real_now = dt.datetime.now(UTC)
    ids = []
    for i in range(count):
        row = add_message(clinic.patient, send_at=real_now - dt.timedelta(minutes=1),
                          stale_at=real_now + dt.timedelta(days=1), commit=False,
                          body=f"Pasadena Clinic: test text #{i:04d}. Questions: (626) 555-0100.")
        db.session.flush()
        ids.append(row.id)
    db.session.commit()
    return ids


def wait_for(predicate, what: str, workers: Workers, deadline: float = DEADLINE, procs=()):
    end = time.monotonic() + deadline
    while True:
        db.session.rollback()  # a fresh snapshot: the workers' commits are what we read
        value = predicate()
        if value:
            return value
        if procs:
            workers.check_alive(*procs)
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}\n{workers.output()}")
        time.sleep(0.1)  # polling interval only: no logic depends on it


def status_counts() -> Counter:
    return Counter(dict(db.session.execute(select(Message.status, func.count()).group_by(Message.status)).all()))


def complete(fake) -> list:
    """The requests that arrived whole. A SIGKILL can cut a request mid-body; Twilio never
    acts on a request shorter than its Content-Length, so such a fragment is not a send."""
    return [req for req in list(fake.requests)
            if len(req.raw_body) == int(req.headers.get("Content-Length") or 0)]


def requests_per_body(fake) -> Counter:
    return Counter(req.form.get("Body") for req in complete(fake))


def test_one_worker_sends_every_due_text_once_and_beats(app, api, clock, fake, workers):
    ids = due_texts(5)
    proc = workers.start()

    wait_for(lambda: status_counts().get("sent") == 5, "5 texts sent", workers, procs=[proc])
    wait_for(lambda: db.session.scalar(select(func.count()).select_from(Heartbeat)
                                       .where(Heartbeat.name == Workers.owner(proc))),
             "a heartbeat", workers, procs=[proc])

    rows = messages()
    assert [r.id for r in rows] == ids
    assert all(r.status == "sent" and r.twilio_sid and r.lease_owner == Workers.owner(proc)
               for r in rows)
    assert {r.twilio_sid for r in rows} == {m["sid"] for m in fake.messages}
    assert set(requests_per_body(fake).values()) == {1} and len(complete(fake)) == len(fake.requests) == 5
    for req in fake.requests:
        ref = int(req.form["StatusCallback"].rsplit("=", 1)[1])
        assert req.form["Body"] == db.session.get(Message, ref).body

    clock.set(dt.datetime.now(UTC))  # /readyz compares the newest beat with "now"
    ready = api.get("/readyz", as_=None)
    assert ready.get_json()["checks"]["scheduler"] == "ok", ready.get_json()
    workers.check_alive(proc)
    assert "Traceback" not in workers.output(), workers.output()


def kill_mid_dispatch(workers, fake, count):
    """Two workers over `count` due texts with slow answers; SIGKILL the one holding most
    claimed rows once it has sent a few. Returns (victim owner, refs it had in flight at
    the fake when it died, rows it still held)."""
    fake.delay_next(0.25, times=10 * count)  # each answer takes 0.25 s: kills land mid-send
    a, b = workers.start(), workers.start()
    owners = {Workers.owner(p): p for p in (a, b)}

    def victim():
        held = Counter(db.session.scalars(select(Message.lease_owner).where(Message.status == "sending")))
        sent = Counter(db.session.scalars(select(Message.lease_owner).where(Message.status == "sent")))
        for owner, n in held.most_common():
            if owner in owners and n >= 4 and sent[owner] >= 4:
                return owner
        return None

    owner = wait_for(victim, "a worker mid-dispatch", workers, procs=[a, b])
    owners[owner].send_signal(signal.SIGKILL)
    owners[owner].wait(timeout=10)
    db.session.rollback()
    held = set(db.session.scalars(select(Message.id).where(Message.status == "sending",
                                                            Message.lease_owner == owner)))
    assert held, "the victim held no rows when it died"
    # A request already written to the socket may be read by the fake a moment after the
    # kill; then the fake answers each one (into a closed socket) after its delay.
    time.sleep(0.5)
    in_flight = {ref for ref in refs_sent(fake) if ref in held}
    bodies = {r.id: r.body for r in messages() if r.id in in_flight}

    def answered():
        done = {m["body"] for m in list(fake.messages)}
        return all(body in done for body in bodies.values())

    wait_for(answered, "the fake to answer the dead worker's requests", workers)
    survivor = owners[next(o for o in owners if o != owner)]
    return owner, in_flight, held, survivor


def refs_sent(fake) -> Counter:
    """Requests per outbox row id (the ref in the StatusCallback URL)."""
    return Counter(int(req.form["StatusCallback"].rsplit("=", 1)[1]) for req in complete(fake))


def expire_leases(owner: str) -> int:
    # The dead worker's leases would run out after LEASE (5 minutes); rather than wait,
    # move them into the past: this is exactly the state 5 minutes later.
    result = db.session.execute(update(Message).where(Message.status == "sending", Message.lease_owner == owner)
                                .values(lease_until=dt.datetime.now(UTC) - dt.timedelta(seconds=1)))
    db.session.commit()
    return result.rowcount


COUNT = 60  # more than one dispatch batch (50), so both workers claim rows


def test_two_workers_and_a_sigkill_lose_nothing_and_send_once(app, api, fake, workers):
    """Twilio reports each accepted text with a status callback carrying our row id: that is
    what lets the service know a dead worker's in-flight texts went out. The test delivers
    those callbacks (signed, through the webhook) as Twilio would, before the leases end."""
    ids = due_texts(COUNT)
    owner, in_flight, held, survivor = kill_mid_dispatch(workers, fake, COUNT)

    bodies_by_ref = {r.id: r.body for r in messages()}
    sid_by_body = {m["body"]: m["sid"] for m in list(fake.messages)}
    for ref in sorted(in_flight):
        sid = sid_by_body[bodies_by_ref[ref]]
        assert status_callback(api.client, ref, sid, "sent").status_code == 204
    expire_leases(owner)
    replacement = workers.start()

    wait_for(lambda: status_counts().get("sent") == COUNT, f"all {COUNT} texts sent", workers,
             procs=[survivor, replacement])
    per_ref = refs_sent(fake)
    duplicates = {ref: n for ref, n in per_ref.items() if n > 1}
    print(f"\nkilled {owner} holding {len(held)} rows, {len(in_flight)} in flight; "
          f"duplicates: {len(duplicates)}")
    assert set(per_ref) == set(ids), "a text was lost"
    assert duplicates == {}, duplicates
    assert set(requests_per_body(fake).values()) == {1}
    rows = messages()
    assert all(r.status == "sent" and r.twilio_sid for r in rows)
    assert len({r.twilio_sid for r in rows}) == COUNT
    assert {Workers.owner(p) for p in workers.procs} >= {r.lease_owner for r in rows} - {None}


def test_without_twilio_callbacks_only_in_flight_texts_can_repeat(app, api, fake, workers):
    """The honest bound when no status callback arrives before the lease ends: a text the
    dead worker had in flight (Twilio accepted it, the worker died before saving the SID) is
    sent again; nothing else is, and nothing is lost."""
    ids = due_texts(COUNT)
    owner, in_flight, held, survivor = kill_mid_dispatch(workers, fake, COUNT)
    expire_leases(owner)
    replacement = workers.start()

    wait_for(lambda: status_counts().get("sent") == COUNT, f"all {COUNT} texts sent", workers,
             procs=[survivor, replacement])
    per_ref = refs_sent(fake)
    duplicates = {ref for ref, n in per_ref.items() if n > 1}
    print(f"\nkilled {owner} holding {len(held)} rows, {len(in_flight)} in flight; "
          f"resent: {sorted(duplicates)}")
    assert set(per_ref) == set(ids), "a text was lost"
    assert max(per_ref.values()) <= 2
    assert duplicates == in_flight  # exactly the dead worker's in-flight texts, no others
    assert len(duplicates) <= 4     # at most one batch of concurrent sends (CONCURRENCY)
