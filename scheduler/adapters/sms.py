"""Sending text messages: the Twilio sender, the log-only sender, error classification.

Vendor errors (twilio's exceptions, requests' network errors) never leave this module:
they become ``TemporarySmsError`` (retry with back-off), ``PermanentSmsError`` (do not
retry, show to the front desk) or ``OptedOutError`` (21610: mark the patient opted out).

Privacy: a phone number or a message body is logged only at DEBUG. Our exceptions carry
no vendor text that could hold a phone number (Twilio's messages often quote the number),
and are raised ``from None`` so a traceback does not show the vendor's exception either.
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import quote
import time
import uuid
from dataclasses import dataclass
from typing import Callable, Literal

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

log = logging.getLogger(__name__)

TWILIO_API_ORIGIN = "https://api.twilio.com"
STATUS_CALLBACK_PATH = "/webhooks/twilio/status"
DEFAULT_TIMEOUT_SECONDS = 10.0

# Twilio error codes (https://www.twilio.com/docs/api/errors)
RETRYABLE_CODES = frozenset({
    20429,  # too many requests
    30001,  # queue overflow
    30003,  # unreachable destination handset
})
OPTED_OUT_CODE = 21610  # the recipient texted STOP; Twilio refuses to send
PERMANENT_CODES = frozenset({
    21211,  # invalid 'To' phone number
    21610,  # unsubscribed recipient
    21614,  # 'To' number is not a valid mobile number
    30005,  # unknown destination handset
    30006,  # landline or unreachable carrier
    30007,  # message filtered (carrier)
})


# --------------------------------------------------------------------------- results, errors

@dataclass(frozen=True)
class SendResult:
    sid: str
    status: str


class SmsError(Exception):
    """A send that did not succeed.

    ``code``: Twilio's error code (e.g. 21610) when the server sent one, else None.
    ``http_status``: the HTTP status, None for a network error or timeout.
    ``retryable``: worth trying again later (with back-off).
    ``maybe_sent``: the request may have reached Twilio (read timeout, connection dropped
    after sending, an unreadable success answer): Twilio may have accepted the message, so a
    retry can send it twice. False when it certainly did not (refused connection, an error
    answer).
    """

    retryable: bool = False

    def __init__(self, message: str, *, code: int | None = None, http_status: int | None = None,
                 retryable: bool | None = None, maybe_sent: bool = False):
        super().__init__(message)
        self.code = code
        self.http_status = http_status
        if retryable is not None:
            self.retryable = retryable
        self.maybe_sent = maybe_sent

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({str(self)!r}, code={self.code}, "
                f"http_status={self.http_status}, retryable={self.retryable}, "
                f"maybe_sent={self.maybe_sent})")


class TemporarySmsError(SmsError):
    retryable = True


class PermanentSmsError(SmsError):
    retryable = False


class OptedOutError(PermanentSmsError):
    """Twilio 21610: the number has opted out (STOP). The caller marks the patient opted out."""


def classify_delivery_error(code: int | None) -> Literal["retryable", "permanent"]:
    """Classify an ``ErrorCode`` from a status callback (undelivered / failed).

    Only the known temporary conditions are retried; anything else (including no code at
    all, or a code we do not know) is permanent, so an unknown failure never causes a loop
    of resends.
    """
    return "retryable" if _twilio_code(code) in RETRYABLE_CODES else "permanent"


def error_for_response(http_status: int | None, code: int | None,
                       detail: str = "") -> SmsError:
    """Our exception for an HTTP error answer (``code``: Twilio's error code, or None).

    The Twilio code decides first (20429/30001/30003 retryable; 21610 opted out; the known
    permanent codes), then the HTTP status: 429 and 5xx retryable, any other status permanent.
    """
    code = _twilio_code(code)
    message = f"Twilio refused the message: HTTP {http_status}, code {code}"
    if detail:
        message += f" ({detail})"
    kwargs = dict(code=code, http_status=http_status)
    if code == OPTED_OUT_CODE:
        return OptedOutError(message, **kwargs)
    if code in RETRYABLE_CODES:
        return TemporarySmsError(message, **kwargs)
    if code in PERMANENT_CODES:
        return PermanentSmsError(message, **kwargs)
    if http_status is not None and (http_status == 429 or 500 <= http_status <= 599):
        return TemporarySmsError(message, **kwargs)
    return PermanentSmsError(message, **kwargs)


def translate_exception(exc: BaseException) -> SmsError:
    """Turn a vendor exception raised while sending into our own exception."""
    if isinstance(exc, SmsError):
        return exc
    if isinstance(exc, (TwilioRestException, TwilioServiceException)):
        return error_for_response(_int_or_none(exc.status), exc.code)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return TemporarySmsError("could not connect to Twilio (timeout)", maybe_sent=False)
    if isinstance(exc, requests.exceptions.Timeout):  # ReadTimeout
        return TemporarySmsError("no answer from Twilio in time", maybe_sent=True)
    if isinstance(exc, requests.exceptions.ConnectionError):
        sent = not _failed_before_sending(exc)
        what = "connection to Twilio lost" if sent else "could not connect to Twilio"
        return TemporarySmsError(f"{what}: {type(exc).__name__}", maybe_sent=sent)
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError,
                        requests.exceptions.ContentDecodingError)):
        return TemporarySmsError("Twilio's answer was cut off", maybe_sent=True)
    if isinstance(exc, ValueError):  # json.JSONDecodeError on a 2xx answer
        return TemporarySmsError("Twilio's answer could not be read", maybe_sent=True)
    if isinstance(exc, (requests.exceptions.RequestException, TwilioException)):
        # e.g. an invalid URL: a configuration problem, retrying will not help
        return PermanentSmsError(f"could not send to Twilio: {type(exc).__name__}")
    return PermanentSmsError(f"unexpected error while sending: {type(exc).__name__}")


def _failed_before_sending(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the connection was never made (refused, DNS), so nothing reached Twilio."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        name = type(cur).__name__
        if name in {"NewConnectionError", "NameResolutionError", "ConnectionRefusedError",
                    "ConnectTimeoutError", "gaierror"}:
            return True
        nxt = getattr(cur, "reason", None)
        if not isinstance(nxt, BaseException):
            args = getattr(cur, "args", ())
            nxt = next((a for a in args if isinstance(a, BaseException)), None)
        cur = nxt or cur.__cause__ or cur.__context__
    return False


def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _twilio_code(code) -> int | None:
    """Twilio's error codes have 5 digits; twilio's client puts the HTTP status in ``code``
    when the answer had none, which is not an error code."""
    code = _int_or_none(code)
    return code if code is not None and code >= 10000 else None


# --------------------------------------------------------------------------- helpers

def mask_phone(number: str | None) -> str:
    """``+18055550123`` -> ``+*********23``: enough to tell numbers apart in a log."""
    if not number:
        return "<none>"
    digits = [i for i, ch in enumerate(number) if ch.isdigit()]
    keep = set(digits[-2:])
    return "".join(ch if (i in keep or not ch.isdigit()) else "*" for i, ch in enumerate(number))


# --------------------------------------------------------------------------- senders

class _RebasingHttpClient(TwilioHttpClient):
    """twilio's HTTP client, sending to ``api_base_url`` instead of https://api.twilio.com."""

    def __init__(self, api_base_url: str | None, timeout: float | None):
        super().__init__(timeout=timeout)
        self.api_base_url = api_base_url.rstrip("/") if api_base_url else None

    def request(self, method, url, *args, **kwargs):
        if self.api_base_url and url.startswith(TWILIO_API_ORIGIN):
            url = self.api_base_url + url[len(TWILIO_API_ORIGIN):]
        return super().request(method, url, *args, **kwargs)


class TwilioSender:
    """Sends one text through Twilio's Messages API with the real twilio client.

    Either ``from_number`` or ``messaging_service_sid`` is required; when both are given the
    messaging service is used (it picks the sender number from its pool).
    """

    def __init__(self, account_sid: str, auth_token: str, from_number: str | None = None,
                 messaging_service_sid: str | None = None, api_base_url: str | None = None,
                 status_callback_base_url: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT_SECONDS):
        if not account_sid or not auth_token:
            raise ValueError("TwilioSender needs an account SID and an auth token")
        if not from_number and not messaging_service_sid:
            raise ValueError("TwilioSender needs from_number or messaging_service_sid")
        if timeout is None or timeout <= 0:
            raise ValueError("timeout must be a positive number of seconds")
        self.account_sid = account_sid
        self.from_number = None if messaging_service_sid else from_number
        self.messaging_service_sid = messaging_service_sid or None
        self.api_base_url = api_base_url.rstrip("/") if api_base_url else None
        self.status_callback_url = (
            status_callback_base_url.rstrip("/") + STATUS_CALLBACK_PATH
            if status_callback_base_url else None)
        self.timeout = timeout
        self.http_client = _RebasingHttpClient(self.api_base_url, timeout)
        self.client = Client(account_sid, auth_token, account_sid=account_sid,
                             http_client=self.http_client)
        # Client falls back to TWILIO_EDGE / TWILIO_REGION from os.environ, which would
        # rewrite the host name: this sender is configured by its arguments only.
        self.client.edge = None
        self.client.region = None

    @property
    def sender_key(self) -> str:
        """What Twilio rate-limits on: the messaging service or the sending number."""
        return self.messaging_service_sid or self.from_number or ""

    def send(self, to: str, body: str, message_ref: str | int) -> SendResult:
        params: dict = {"to": to, "body": body}
        if self.messaging_service_sid:
            params["messaging_service_sid"] = self.messaging_service_sid
        else:
            params["from_"] = self.from_number
        if self.status_callback_url:
            # Our id rides along, so a callback can find the row even if the worker died
            # before it saved the SID Twilio returned.
            params["status_callback"] = f"{self.status_callback_url}?ref={quote(str(message_ref))}"
        log.debug("SMS ref=%s to %s: %r", message_ref, to, body)
        try:
            message = self.client.messages.create(**params)
        except Exception as exc:  # vendor errors become ours
            error = translate_exception(exc)
            log.debug("SMS ref=%s vendor error: %r", message_ref, exc)
            log.warning("SMS ref=%s to %s not sent: %s (retryable=%s, maybe_sent=%s)",
                        message_ref, mask_phone(to), error, error.retryable, error.maybe_sent)
            raise error from None
        sid, status = getattr(message, "sid", None), getattr(message, "status", None)
        if not sid:
            error = TemporarySmsError("Twilio's answer had no message SID", maybe_sent=True)
            log.warning("SMS ref=%s: %s", message_ref, error)
            raise error
        status = str(getattr(status, "value", status) or "queued")
        log.info("SMS ref=%s to %s accepted by Twilio: sid=%s status=%s (%d chars)",
                 message_ref, mask_phone(to), sid, status, len(body))
        return SendResult(sid=sid, status=status)


class LogSender:
    """The embedded default without Twilio credentials: the text goes to the log only."""

    sender_key = "log"

    def send(self, to: str, body: str, message_ref: str | int) -> SendResult:
        sid = "LOG" + uuid.uuid4().hex
        log.info("SMS to %s: %d chars (ref=%s, sid=%s, not sent: no Twilio credentials)",
                 mask_phone(to), len(body), message_ref, sid)
        log.debug("SMS ref=%s to %s body: %s", message_ref, to, body)
        return SendResult(sid=sid, status="sent")


# --------------------------------------------------------------------------- rate limiting

class RateLimiter:
    """Token bucket: ``rate_per_second`` tokens a second, at most ``burst`` saved up.

    ``acquire(n)`` takes n tokens (e.g. the message's segment count), sleeping as long as
    needed, and returns the seconds it waited. Thread-safe: concurrent callers reserve their
    tokens under a lock and then sleep outside it, so they are spaced out, not bunched.
    One limiter per sender (``TwilioSender.sender_key``); it limits this process only.
    """

    def __init__(self, rate_per_second: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, burst: float = 1.0):
        if not rate_per_second or rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        if burst <= 0:
            raise ValueError("burst must be positive")
        self.rate = float(rate_per_second)
        self.burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._last = clock()
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._last)
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        self._last = now

    def try_acquire(self, n: float = 1.0) -> bool:
        """Take n tokens if they are there now; never sleeps."""
        with self._lock:
            self._refill(self._clock())
            if self._tokens >= n:
                self._tokens -= n
                return True
            return False

    def acquire(self, n: float = 1.0) -> float:
        if n <= 0:
            return 0.0
        with self._lock:
            self._refill(self._clock())
            self._tokens -= n  # may go negative: a reservation of future tokens
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait
