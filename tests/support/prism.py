"""Start and stop the Prism mock of Twilio's API (/work/shared/tools/twilio/mock PORT).

    with PrismMock() as prism:          # or: prism = start_prism(); ...; prism.stop()
        sender = TwilioSender(..., api_base_url=prism.base_url)

The first start installs @stoplight/prism-cli from npm (about 10 s here, longer on a slow
network); later starts take 1-2 s. Without Node.js/npm the tests are skipped, except when
CI == "true", where that is a failure. Set TWILIO_MOCK_SCRIPT to use another mock script.
"""

from __future__ import annotations

import collections
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

MOCK_SCRIPT = Path(os.environ.get("TWILIO_MOCK_SCRIPT", "/work/shared/tools/twilio/mock"))
READY_TEXT = "Prism is listening"
DEFAULT_START_TIMEOUT = 120.0  # the first start runs npm install


def skip_or_fail(reason: str) -> None:
    """pytest.skip, but a failure in CI (CI=true), where a missing tool must not go unseen."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: not skipping)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrismMock:
    def __init__(self, port: int | None = None, timeout: float = DEFAULT_START_TIMEOUT,
                 script: Path | str = MOCK_SCRIPT):
        self.port = port or free_port()
        self.timeout = timeout
        self.script = Path(script)
        self.process: subprocess.Popen | None = None
        self.output: collections.deque[str] = collections.deque(maxlen=300)
        self.start_seconds: float | None = None
        self._ready = threading.Event()
        self._reader: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def check_tools(self) -> None:
        missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
        if missing:
            skip_or_fail(f"the Twilio mock (Prism) needs Node.js and npm; not found: "
                         f"{', '.join(missing)}")
        if not self.script.exists():
            skip_or_fail(f"the Twilio mock script {self.script} is missing")

    def start(self) -> "PrismMock":
        self.check_tools()
        started = time.monotonic()
        self.process = subprocess.Popen(
            [str(self.script), str(self.port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: npm, node and all are killed
            text=True, encoding="utf-8", errors="replace", bufsize=1,
        )
        self._reader = threading.Thread(target=self._read_output, name="prism-output",
                                        daemon=True)
        self._reader.start()
        deadline = started + self.timeout
        while not self._ready.wait(0.1):
            if self.process.poll() is not None:
                self._reader.join(timeout=2)
                self.stop()
                raise RuntimeError(
                    f"Prism exited with code {self.process.returncode} before listening; "
                    f"output:\n{self.tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"Prism did not print {READY_TEXT!r} within {self.timeout:.0f} s; "
                    f"output:\n{self.tail()}")
        self.start_seconds = time.monotonic() - started
        return self

    def _read_output(self) -> None:
        # Prism logs every route at start and every request after: keep draining the pipe.
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line.rstrip("\n"))
            if READY_TEXT in line:
                self._ready.set()

    def tail(self, lines: int = 40) -> str:
        return "\n".join(list(self.output)[-lines:])

    def stop(self) -> None:
        proc = self.process
        if proc is None or proc.returncode is not None:
            return
        try:
            pgid = os.getpgid(proc.pid)
        except ProcessLookupError:
            pgid = None
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                if pgid is not None:
                    os.killpg(pgid, sig)
                else:
                    proc.send_signal(sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        if pgid is not None:  # anything left in the group (e.g. an npm child)
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self._reader is not None:
            self._reader.join(timeout=5)  # the pipe is at EOF once the group is gone
        if proc.stdout is not None and (self._reader is None or not self._reader.is_alive()):
            proc.stdout.close()

    def __enter__(self) -> "PrismMock":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def start_prism(port: int | None = None, timeout: float = DEFAULT_START_TIMEOUT) -> PrismMock:
    """Start Prism and wait until it listens; the caller calls ``.stop()``."""
    return PrismMock(port=port, timeout=timeout).start()


def prism_fixture():
    """Body of a fixture: ``prism = pytest.fixture(scope="module")(prism_fixture)``."""
    mock = PrismMock()
    try:
        mock.start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield mock
    finally:
        mock.stop()
