"""A small HTTP(S) server on 127.0.0.1 for outbound-request tests: each route answers
(status, headers, body), or writes the raw socket itself; every request is recorded.

    with LocalServer({"/feed.ics": lambda req: (200, {}, ICS)}) as server:
        fetch(server.url("/feed.ics")); server.requests[0]["headers"]["Host"]
"""
from __future__ import annotations

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LocalServer:
    def __init__(self, routes: dict, tls: ssl.SSLContext | None = None):
        self.routes, self.requests = routes, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.requests.append({"method": self.command, "path": self.path,
                                       "headers": dict(self.headers), "body": body})
                route = outer.routes.get(self.path.split("?")[0])
                answer = route(self) if route else (404, {}, b"no such route")
                if answer is None:  # the route wrote (or refused to write) the answer itself
                    return
                status, headers, payload = answer
                self.send_response(status, headers.pop("_reason", None))
                headers.setdefault("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading: what a size cap does

            do_GET = do_POST = do_PROPFIND = do_REPORT = do_OPTIONS = _any

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def __enter__(self) -> "LocalServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
