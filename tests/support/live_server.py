"""The real app over real HTTP, for end-to-end tests: a threaded werkzeug server in a
background thread on 127.0.0.1, on a port the OS picks.

    with LiveServer(database_url, clock) as server:
        requests.post(server.base_url + "/api/v1/appointments", ...)

It builds its own app (its own engine and connection pool) on the test database, so the
requests really go through a socket, a WSGI server and concurrent threads, exactly as a
client's would. ``stop()`` shuts the server down, waits for its thread and disposes the
engine, so no connection is left open on the test database.
"""
from __future__ import annotations

import threading

from werkzeug.serving import WSGIRequestHandler, make_server

from scheduler import create_app
from scheduler.extensions import db

STOP_TIMEOUT = 10.0
SECRET_KEY = "live-server-secret-key-0123456789"


class _QuietHandler(WSGIRequestHandler):
    """No access log line per request: thirty of them drown a failing test's output."""

    def log_request(self, *args, **kwargs):
        pass


class LiveServer:
    def __init__(self, database_url: str, clock, config: dict | None = None):
        self.app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": SECRET_KEY,
                               "CLOCK": clock, "SCHEDULER_EMBEDDED": False, **(config or {})})
        self._server = None
        self._thread = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> str:
        # Port 0: the OS hands out a free port at bind time, so there is no probe-then-bind race.
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True, request_handler=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="live-server", daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(STOP_TIMEOUT)
        if self._thread.is_alive():
            raise RuntimeError("the live server did not stop in time")
        self._server = self._thread = None
        with self.app.app_context():
            db.engine.dispose()

    def __enter__(self) -> "LiveServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def live_server(database_url: str, clock, config: dict | None = None) -> LiveServer:
    """A started server; call ``stop()`` (or use it as a context manager) when done."""
    server = LiveServer(database_url, clock, config)
    server.start()
    return server
