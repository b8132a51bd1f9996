"""A small recording fake of Twilio's Messages endpoint, over real HTTP, for tests.

    with FakeTwilio() as fake:
        sender = TwilioSender(..., api_base_url=fake.base_url)
        fake.fail_next(status=400, code=21610)      # the next request gets this error
        fake.drop_next()                            # the next one: connection closed, no answer
        fake.delay_next(2.0)                        # the next one answers after 2 s
        ...
        fake.requests[-1].form["To"], fake.requests[-1].auth

Scripted answers are used in order, one per request; then requests are answered normally:
201 with a Message JSON (sid "SM" + 32 hex, status "queued", To/Body/From echoed).
Only POST .../Accounts/{AC...}/Messages.json is served; anything else gets Twilio's 404.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json$")

ERROR_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    21211: "The 'To' number +15005550001 is not a valid phone number.",
    21602: "Message body is required.",
    21603: "The 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number +15005550009 is not a valid mobile number",
    30001: "Queue overflow",
    30003: "Unreachable destination handset",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered",
}


@dataclass
class RecordedRequest:
    method: str
    path: str                    # without the query string
    query: dict[str, list[str]]
    form: dict[str, str]         # first value of each form field
    form_lists: dict[str, list[str]]
    headers: dict[str, str]
    auth_header: str | None
    auth: tuple[str, str] | None  # decoded Basic credentials
    raw_body: bytes


@dataclass
class _Scripted:
    kind: str  # "error", "drop", "delay", "raw"
    status: int = 500
    code: int | None = None
    message: str | None = None
    delay: float = 0.0
    body: bytes | None = None
    content_type: str = "application/json"
    extra: dict = field(default_factory=dict)


class FakeTwilio:
    def __init__(self, host: str = "127.0.0.1", status: str = "queued"):
        self.host = host
        self.status = status          # the status of created messages
        self.requests: list[RecordedRequest] = []
        self.messages: list[dict] = []  # the Message JSON answered for each success
        self._script: deque[_Scripted] = deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "FakeTwilio":
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="fake-twilio", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closing.set()  # wakes handlers waiting in a scripted delay
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "FakeTwilio":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "FakeTwilio is not started"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ------------------------------------------------------------------ scripting
    def fail_next(self, status: int = 500, code: int | None = None, times: int = 1,
                  message: str | None = None) -> None:
        """Answer the next ``times`` requests with HTTP ``status`` and Twilio's error JSON
        ({"code", "message", "more_info", "status"}); code None -> "code": null."""
        for _ in range(times):
            self._push(_Scripted("error", status=status, code=code, message=message))

    def fail_next_rfc9457(self, status: int, code: int, times: int = 1) -> None:
        """Answer with Twilio's newer problem-details error body (type/title/status/code)."""
        body = json.dumps({"type": f"https://www.twilio.com/docs/errors/{code}",
                           "title": ERROR_MESSAGES.get(code, "Error"), "status": status,
                           "code": code, "detail": "scripted by FakeTwilio"}).encode()
        for _ in range(times):
            self._push(_Scripted("raw", status=status, body=body,
                                 content_type="application/problem+json"))

    def respond_next(self, status: int, body: bytes | str,
                     content_type: str = "application/json", times: int = 1) -> None:
        """Answer the next requests with exactly this status and body."""
        data = body.encode() if isinstance(body, str) else body
        for _ in range(times):
            self._push(_Scripted("raw", status=status, body=data, content_type=content_type))

    def drop_next(self, times: int = 1) -> None:
        """Read the next requests, then close the connection without answering."""
        for _ in range(times):
            self._push(_Scripted("drop"))

    def delay_next(self, seconds: float, times: int = 1) -> None:
        """Answer the next requests normally, but only after ``seconds``."""
        for _ in range(times):
            self._push(_Scripted("delay", delay=seconds))

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.messages.clear()

    def _push(self, item: _Scripted) -> None:
        with self._lock:
            self._script.append(item)

    def _next_script(self) -> _Scripted | None:
        with self._lock:
            return self._script.popleft() if self._script else None

    # ------------------------------------------------------------------ answers
    def _message_json(self, account: str, form: dict[str, str]) -> dict:
        sid = "SM" + uuid.uuid4().hex
        now = formatdate(usegmt=False).replace("-0000", "+0000")
        body = form.get("Body", "")
        gsm = all(ord(ch) < 128 for ch in body)
        single, multi = (160, 153) if gsm else (70, 67)
        units = len(body) if gsm else len(body.encode("utf-16-le")) // 2
        segments = 1 if units <= single else -(-units // multi)
        return {
            "account_sid": account,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": str(segments),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": self.status,
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json"},
            "to": form.get("To"),
            "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
        }


def error_body(status: int, code: int | None, message: str | None = None) -> bytes:
    return json.dumps({
        "code": code,
        "message": message or ERROR_MESSAGES.get(code, f"HTTP {status}"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}" if code else None,
        "status": status,
    }).encode()


class _Handler(BaseHTTPRequestHandler):
    owner: FakeTwilio
    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle keep-alive connection is closed after this

    def log_message(self, format, *args):  # keep test output quiet
        pass

    def do_GET(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def do_DELETE(self):
        self._handle()

    def _handle(self):
        fake = self.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        form_lists = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        auth_header = self.headers.get("Authorization")
        auth = None
        if auth_header and auth_header.startswith("Basic "):
            try:
                user, _, pw = base64.b64decode(auth_header[6:]).decode().partition(":")
                auth = (user, pw)
            except ValueError:
                auth = None
        rec = RecordedRequest(
            method=self.command, path=parts.path, query=parse_qs(parts.query),
            form={k: v[0] for k, v in form_lists.items()}, form_lists=form_lists,
            headers=dict(self.headers.items()), auth_header=auth_header, auth=auth,
            raw_body=raw)
        with fake._lock:
            fake.requests.append(rec)

        script = fake._next_script()
        if script is not None:
            if script.kind == "drop":
                self.close_connection = True
                try:
                    self.connection.shutdown(2)
                except OSError:
                    pass
                return
            if script.kind == "error":
                return self._send(script.status, error_body(script.status, script.code,
                                                            script.message))
            if script.kind == "raw":
                return self._send(script.status, script.body or b"", script.content_type)
            if script.kind == "delay":
                if fake._closing.wait(script.delay):
                    return
                # the client may have given up; answering into a closed socket is fine

        m = MESSAGES_PATH.match(parts.path)
        if self.command != "POST" or not m:
            return self._send(404, error_body(404, 20404))
        if auth is None:
            return self._send(401, error_body(401, 20003))
        form = rec.form
        if not form.get("To"):
            return self._send(400, error_body(400, 21604))
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return self._send(400, error_body(400, 21603))
        if not form.get("Body"):
            return self._send(400, error_body(400, 21602))
        msg = fake._message_json(m.group("account"), form)
        with fake._lock:
            fake.messages.append(msg)
        self._send(201, json.dumps(msg).encode())

    def _send(self, status: int, body: bytes, content_type: str = "application/json"):
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True


@pytest.fixture
def fake_twilio():
    """A started FakeTwilio; import it into a test module or conftest to use it."""
    with FakeTwilio() as fake:
        yield fake
