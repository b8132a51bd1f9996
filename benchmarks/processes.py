"""The processes the benchmarks start and stop: gunicorn (-w 2, sync workers) and `flask --app wsgi
worker`, their environment, and the CPU they (and the machine) use, read from /proc.

Everything listens on 127.0.0.1; every process started here is stopped by its owner
(a context manager or an explicit stop), never left behind.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from benchmarks.app import ROOT, SECRET_KEY

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "load-and-faults-auth-token"
FROM = "+18055550199"


def wait_until(predicate, seconds: float, interval: float = 0.2):
    """Poll `predicate` until it returns something truthy or `seconds` pass; returns its last
    value (falsy on time-out)."""
    end = time.monotonic() + seconds
    while True:
        value = predicate()
        if value or time.monotonic() >= end:
            return value
        time.sleep(interval)  # polling a peer process: nothing to be notified by


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen, grace: float, after_kill: float) -> None:
    """SIGTERM (it finishes what it is doing), then SIGKILL after `grace` seconds."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(after_kill)


# -- the service's environment -----------------------------------------------------------------
def service_environ() -> None:
    """What Gunicorn passes on from os.environ for `make load` and `make faults`: no rate limit
    (one key makes all the load), quiet logs. Gunicorn itself adds DATABASE_URL, SECRET_KEY and
    SCHEDULER_EMBEDDED=false."""
    for name in [k for k in os.environ if k.startswith("TWILIO_")]:
        del os.environ[name]
    os.environ.update(RATE_LIMIT_ENABLED="false", LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1")


def worker_env(database_url: str, twilio_base: str, public_base: str, sms_rate: float = 100) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")}
    env.update(DATABASE_URL=database_url, SECRET_KEY=SECRET_KEY, SCHEDULER_EMBEDDED="false",
               TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN, TWILIO_FROM_NUMBER=FROM,
               TWILIO_API_BASE_URL=twilio_base, PUBLIC_BASE_URL=public_base,
               SMS_RATE_PER_SECOND=str(sms_rate), RATE_LIMIT_ENABLED="false", LOG_LEVEL="WARNING",
               PYTHONUNBUFFERED="1")
    return env


# -- gunicorn ------------------------------------------------------------------------------------------
class Gunicorn:
    """`gunicorn -w 2 wsgi:app` on a free port, ready (GET /healthz 200) when entered.
    count_statements=True sets BENCH_COUNT_STATEMENTS: each response then carries its request's
    statement count, counted in the worker (scheduler/metrics.py); off otherwise, whatever
    the caller's environment says, so the figures measured without it stay comparable."""

    def __init__(self, url: str, log_path: Path, count_statements: bool = False):
        self.url, self.log_path, self.proc = url, log_path, None
        self.count_statements = count_statements
        self.base = None

    def __enter__(self) -> "Gunicorn":
        port = free_port()
        env = {**os.environ, "DATABASE_URL": self.url, "SECRET_KEY": SECRET_KEY, "SCHEDULER_EMBEDDED": "false",
               "BENCH_COUNT_STATEMENTS": "true" if self.count_statements else "false"}
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
                                      "--log-level", "warning", "wsgi:app"], cwd=ROOT, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{port}"
        try:
            self._wait_until_ready()
        except BaseException:
            self.__exit__()  # never leave a server behind
            raise
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log_path.read_text()[-2000:]}")
            try:
                if requests.get(self.base + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:  # not listening yet, or a worker still booting
                pass
            time.sleep(0.1)  # waiting for a process to listen: nothing to be notified by
        raise RuntimeError("gunicorn did not answer /healthz within 30 s")

    def workers(self) -> list[int]:
        return children(self.proc.pid)

    def __exit__(self, *exc) -> None:
        stop_process(self.proc, 15, 5)
        self.log.close()


def temporary_log(prefix: str) -> Path:
    return Path(tempfile.mkstemp(prefix=prefix, suffix=".log")[1])


# -- the worker ------------------------------------------------------------------------------------------
class Worker:
    """One `flask --app wsgi worker` process, its output in a file (a full pipe would block it)."""

    def __init__(self, env: dict, name: str = "worker"):
        self.env, self.name = env, name
        self.log_path = temporary_log(f"{name}-")
        self.proc: subprocess.Popen | None = None
        self.started_at: float | None = None

    def start(self) -> "Worker":
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
                                         cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT)
        self.started_at = time.monotonic()
        return self

    @property
    def owner(self) -> str:
        """The lease owner it writes (scheduler.jobs.heartbeat.WORKER_NAME)."""
        return f"{socket.gethostname()}:{self.proc.pid}"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM (it finishes running jobs), then SIGKILL after 20 s."""
        if self.proc is not None:
            stop_process(self.proc, 20, 10)

    def output(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def cleanup(self) -> None:
        self.stop()
        self.log_path.unlink(missing_ok=True)


# -- CPU accounting -------------------------------------------------------------------------------------
def cpu_seconds(pids) -> float:
    """User + system CPU of these processes so far (from /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    return found


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return sum(values) - values[3] - values[4], sum(values)


def busy_share(before: tuple[float, float], after: tuple[float, float]) -> float:
    """How busy the machine's cores were between two machine_busy() readings."""
    return round((after[0] - before[0]) / max(after[1] - before[1], 1), 2)
