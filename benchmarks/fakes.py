"""The peers the drills talk to instead of real ones, in this process on 127.0.0.1: a scriptable
fake Twilio (on top of tests/support/fake_twilio.py) and a TCP server that never answers."""
from __future__ import annotations

import socket
import threading
import time
from collections import Counter

from tests.support.fake_twilio import FakeTwilio, _Scripted


class ScriptedTwilio(FakeTwilio):
    """The recording fake with two time-based behaviours the drills need, on top of its
    per-request scripts: every answer after `delay` seconds, and HTTP 500 (Twilio error
    20500) for every request until `fail_until` (time.monotonic())."""

    def __init__(self):
        super().__init__()
        self.delay = 0.0
        self.fail_until = 0.0
        self.answers = Counter()  # "201" / "500": answers given (scripted or not)

    def _next_script(self):
        scripted = super()._next_script()
        if scripted is not None:
            return scripted
        if time.monotonic() < self.fail_until:
            with self._lock:
                self.answers["500"] += 1
            return _Scripted("error", status=500, code=20500, message="Internal Server Error")
        if self.delay:
            return _Scripted("delay", delay=self.delay)
        return None

    def complete(self) -> list:
        """Requests that arrived whole (a SIGKILL can cut one mid-body: Twilio ignores those)."""
        return [r for r in list(self.requests)
                if len(r.raw_body) == int(r.headers.get("Content-Length") or 0)]

    def refs(self) -> Counter:
        """Whole requests per outbox id (the ref in the StatusCallback URL)."""
        return Counter(ref_of(r) for r in self.complete())


def ref_of(request) -> int | None:
    callback = request.form.get("StatusCallback") or ""
    try:
        return int(callback.rsplit("=", 1)[1])
    except (IndexError, ValueError):
        return None


class HangingServer:
    """Accepts TCP connections and never answers (nor reads); closes them all on exit."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[tuple[float, socket.socket]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        end = time.monotonic() + 600
        while not self.stop.is_set() and time.monotonic() < end and len(self.accepted) < 1000:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.accepted.append((time.monotonic(), conn))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)
        for _t, conn in self.accepted:
            conn.close()
        self.sock.close()
