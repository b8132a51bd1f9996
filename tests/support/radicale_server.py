"""A real Radicale CalDAV server in a subprocess, for end-to-end tests.

    with RadicaleServer(tmp_path) as server:
        calendar = server.make_calendar("alice", "busy")
        server.put_event(calendar, ics_text)
        ... server.calendar_url("alice", "busy") ...
        server.stop(); server.start()   # same port, same storage

With ``users={"alice": "secret"}`` it checks passwords (htpasswd, plain text) so a
wrong password really gets a 401; otherwise any user name is accepted (auth type none)
and the owner_only rights still confine each user to /<user>/.
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import caldav

START_TIMEOUT = 15.0
POLL_INTERVAL = 0.02


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RadicaleServer:
    def __init__(self, base_dir: str | Path | None = None, users: dict[str, str] | None = None):
        self._own_tmp = None
        if base_dir is None:
            self._own_tmp = tempfile.TemporaryDirectory(prefix="radicale-")
            base_dir = self._own_tmp.name
        self.base_dir = Path(base_dir)
        self.storage_dir = self.base_dir / "collections"
        self.config_file = self.base_dir / "radicale.conf"
        self.log_file = self.base_dir / "radicale.log"
        self.users = users
        self.port: int | None = None
        self.process: subprocess.Popen | None = None
        self.last_start_seconds: float | None = None

    # -- lifecycle ---------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> "RadicaleServer":
        """Start (or restart after stop()) and return once it answers HTTP."""
        if self.process is not None and self.process.poll() is None:
            return self
        # A fresh port can be taken by someone else between probe and bind: retry.
        attempts = 1 if self.port is not None else 3
        for attempt in range(attempts):
            if self.port is None or attempt > 0:
                self.port = free_port()
            self._write_config()
            if self._launch():
                return self
        raise RuntimeError(f"Radicale did not start; log:\n{self._log_tail()}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def restart(self) -> "RadicaleServer":
        self.stop()
        return self.start()

    def close(self) -> None:
        self.stop()
        if self._own_tmp is not None:
            self._own_tmp.cleanup()
            self._own_tmp = None

    def __enter__(self) -> "RadicaleServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def _write_config(self) -> None:
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        if self.users:
            htpasswd = self.base_dir / "users"
            htpasswd.write_text("".join(f"{u}:{p}\n" for u, p in self.users.items()))
            auth = (
                f"type = htpasswd\nhtpasswd_filename = {htpasswd}\n"
                "htpasswd_encryption = plain\ndelay = 0\n"
            )
        else:
            auth = "type = none\n"
        self.config_file.write_text(
            f"[server]\nhosts = 127.0.0.1:{self.port}\ndelay_on_error = 0\n"
            f"[auth]\n{auth}"
            "[rights]\ntype = owner_only\n"
            f"[storage]\nfilesystem_folder = {self.storage_dir}\n"
            "[logging]\nlevel = warning\n"
        )

    def _launch(self) -> bool:
        started = time.monotonic()
        with open(self.log_file, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "radicale", "--config", str(self.config_file)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = started + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                return False
            if self._answers():
                self.last_start_seconds = time.monotonic() - started
                return True
            time.sleep(POLL_INTERVAL)
        self.stop()
        return False

    def _answers(self) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=0.5)
        try:
            conn.request("OPTIONS", "/")
            conn.getresponse().read()
            return True
        except OSError:
            return False
        finally:
            conn.close()

    def _log_tail(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    # -- calendar helpers (through the caldav library) ---------------------------
    def principal_url(self, user: str) -> str:
        return f"{self.url}{user}/"

    def calendar_url(self, user: str, calendar_id: str) -> str:
        return f"{self.url}{user}/{calendar_id}/"

    def client(self, user: str, password: str | None = None) -> caldav.DAVClient:
        if password is None:
            password = (self.users or {}).get(user, "unused")
        return caldav.DAVClient(
            url=self.url,
            username=user,
            password=password,
            auth_type="basic",  # auth type none never challenges: send it up front
            timeout=5,
            enable_rfc6764=False,
        )

    def make_calendar(self, user: str, calendar_id: str, name: str | None = None):
        client = self.client(user)
        principal = client.principal(url=self.principal_url(user))
        return principal.make_calendar(name=name or calendar_id, cal_id=calendar_id)

    def put_event(self, calendar, ics: str | bytes):
        if isinstance(ics, bytes):
            ics = ics.decode()
        return calendar.save_event(ics)

    def delete_event(self, calendar, uid: str) -> None:
        calendar.event_by_uid(uid).delete()
