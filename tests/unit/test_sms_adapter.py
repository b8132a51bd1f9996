"""The SMS adapter against a recording fake of Twilio, with the real twilio client."""

from __future__ import annotations

import logging
import re

import pytest

from scheduler.adapters.sms import (
    LogSender, OptedOutError, PermanentSmsError, RateLimiter, SendResult, SmsError,
    TemporarySmsError, TwilioSender, classify_delivery_error, mask_phone,
)
from tests.support.fake_twilio import FakeTwilio, fake_twilio  # noqa: F401 (fixture)
from tests.support.prism import free_port

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token"
FROM = "+18055550100"
MG_SID = "MG" + "fedcba9876543210" * 2
TO = "+18055550123"
BODY = "Sunrise Clinic: see you Tue Mar 3 at 9:00 AM, 12 Oak St. Reply C to confirm, STOP to opt out."


def make_sender(fake: FakeTwilio, **overrides) -> TwilioSender:
    kwargs = dict(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number=FROM,
                  messaging_service_sid=None, api_base_url=fake.base_url,
                  status_callback_base_url="https://clinic.example.com", timeout=5)
    kwargs.update(overrides)
    return TwilioSender(**kwargs)


# ------------------------------------------------------------------ what is sent

def test_send_posts_to_messages_with_from_callback_and_basic_auth(fake_twilio):
    result = make_sender(fake_twilio).send(TO, BODY, message_ref=42)

    assert len(fake_twilio.requests) == 1
    req = fake_twilio.requests[0]
    assert req.method == "POST"
    assert req.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert req.form == {"To": TO, "Body": BODY, "From": FROM,
                        "StatusCallback": "https://clinic.example.com/webhooks/twilio/status?ref=42"}
    assert req.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert req.auth_header.startswith("Basic ")
    assert result == SendResult(sid=fake_twilio.messages[0]["sid"], status="queued")
    assert re.fullmatch(r"SM[0-9a-f]{32}", result.sid)


def test_messaging_service_replaces_from_and_no_callback_without_base_url(fake_twilio):
    sender = make_sender(fake_twilio, from_number=None, messaging_service_sid=MG_SID,
                         status_callback_base_url=None)
    sender.send(TO, "hi", message_ref="m-1")
    form = fake_twilio.requests[0].form
    assert form == {"To": TO, "Body": "hi", "MessagingServiceSid": MG_SID}


def test_callback_base_url_trailing_slash_and_unique_sids(fake_twilio):
    sender = make_sender(fake_twilio, status_callback_base_url="https://c.example.com/")
    first, second = sender.send(TO, "a", 1), sender.send(TO, "b", 2)
    assert first.sid != second.sid
    assert fake_twilio.requests[0].form["StatusCallback"] == \
        "https://c.example.com/webhooks/twilio/status?ref=1"


def test_constructor_needs_credentials_and_a_sender():
    with pytest.raises(ValueError):
        TwilioSender(ACCOUNT_SID, "", from_number=FROM)
    with pytest.raises(ValueError):
        TwilioSender(ACCOUNT_SID, AUTH_TOKEN)


def test_environment_edge_region_do_not_redirect(fake_twilio, monkeypatch):
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    monkeypatch.setenv("TWILIO_REGION", "au1")
    make_sender(fake_twilio).send(TO, "x", 1)
    assert len(fake_twilio.requests) == 1


def test_no_phone_or_body_in_logs_above_debug(fake_twilio, caplog):
    caplog.set_level(logging.INFO)
    sender = make_sender(fake_twilio)
    sender.send(TO, BODY, 7)
    fake_twilio.fail_next(status=400, code=21211)  # Twilio's message quotes a number
    with pytest.raises(PermanentSmsError) as info:
        sender.send(TO, BODY, 8)
    text = caplog.text + str(info.value) + repr(info.value)
    assert TO not in text and "+15005550001" not in text
    assert BODY not in text
    assert "ref=7" in caplog.text


# ------------------------------------------------------------------ errors

@pytest.mark.parametrize("status, code, cls", [
    (400, 21211, PermanentSmsError),
    (400, 21610, OptedOutError),
    (400, 21614, PermanentSmsError),
    (400, 30005, PermanentSmsError),
    (400, 30006, PermanentSmsError),
    (400, 30007, PermanentSmsError),
    (429, 20429, TemporarySmsError),
    (503, 30001, TemporarySmsError),
    (400, 30003, TemporarySmsError),   # the code decides, not the 400
    (500, None, TemporarySmsError),
    (503, None, TemporarySmsError),
    (429, None, TemporarySmsError),
    (401, 20003, PermanentSmsError),
    (404, 20404, PermanentSmsError),
    (400, 21999, PermanentSmsError),   # an unknown 4xx
    (422, None, PermanentSmsError),
])
def test_error_answers_map_to_our_exceptions(fake_twilio, status, code, cls):
    fake_twilio.fail_next(status=status, code=code)
    with pytest.raises(SmsError) as info:
        make_sender(fake_twilio).send(TO, BODY, 1)
    err = info.value
    assert type(err) is cls
    assert err.http_status == status
    assert err.code == code  # None when Twilio sent no code (not the HTTP status)
    assert err.retryable is (cls is TemporarySmsError)
    assert err.maybe_sent is False


def test_opted_out_is_permanent(fake_twilio):
    fake_twilio.fail_next(status=400, code=21610)
    with pytest.raises(PermanentSmsError) as info:
        make_sender(fake_twilio).send(TO, BODY, 1)
    assert isinstance(info.value, OptedOutError) and not info.value.retryable


def test_problem_details_error_body_is_understood(fake_twilio):
    fake_twilio.fail_next_rfc9457(status=429, code=20429)
    with pytest.raises(TemporarySmsError) as info:
        make_sender(fake_twilio).send(TO, BODY, 1)
    assert (info.value.http_status, info.value.code) == (429, 20429)


def test_error_without_json_body_uses_http_status(fake_twilio):
    fake_twilio.respond_next(502, "<html>Bad Gateway</html>", content_type="text/html")
    with pytest.raises(TemporarySmsError) as info:
        make_sender(fake_twilio).send(TO, BODY, 1)
    assert (info.value.http_status, info.value.code) == (502, None)


def test_dropped_connection_is_retryable_and_maybe_sent(fake_twilio):
    fake_twilio.drop_next()
    with pytest.raises(TemporarySmsError) as info:
        make_sender(fake_twilio).send(TO, BODY, 1)
    assert info.value.http_status is None and info.value.code is None
    assert info.value.maybe_sent is True


def test_timeout_is_retryable_and_maybe_sent(fake_twilio):
    fake_twilio.delay_next(2.0)
    with pytest.raises(TemporarySmsError) as info:
        make_sender(fake_twilio, timeout=0.5).send(TO, BODY, 1)
    assert info.value.retryable and info.value.maybe_sent


def test_refused_connection_is_retryable_and_not_sent():
    sender = TwilioSender(ACCOUNT_SID, AUTH_TOKEN, from_number=FROM,
                          api_base_url=f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(TemporarySmsError) as info:
        sender.send(TO, BODY, 1)
    assert info.value.maybe_sent is False


def test_unreadable_success_answer_is_retryable_and_maybe_sent(fake_twilio):
    fake_twilio.respond_next(201, "not json")
    with pytest.raises(TemporarySmsError) as info:
        make_sender(fake_twilio).send(TO, BODY, 1)
    assert info.value.maybe_sent


def test_scripted_failures_then_success(fake_twilio):
    fake_twilio.fail_next(status=500, times=2)
    sender = make_sender(fake_twilio)
    for _ in range(2):
        with pytest.raises(TemporarySmsError):
            sender.send(TO, BODY, 1)
    assert sender.send(TO, BODY, 1).status == "queued"
    assert len(fake_twilio.requests) == 3


@pytest.mark.parametrize("code, expected", [
    (20429, "retryable"), (30001, "retryable"), (30003, "retryable"),
    (21211, "permanent"), (21610, "permanent"), (21614, "permanent"), (30005, "permanent"),
    (30006, "permanent"), (30007, "permanent"), (30008, "permanent"), (None, "permanent"),
])
def test_classify_delivery_error(code, expected):
    assert classify_delivery_error(code) == expected


# ------------------------------------------------------------------ log sender, helpers

def test_log_sender_logs_length_and_masked_number_only(caplog):
    caplog.set_level(logging.INFO, logger="scheduler.adapters.sms")
    sender = LogSender()
    a, b = sender.send(TO, BODY, 1), sender.send(TO, BODY, 2)
    assert re.fullmatch(r"LOG[0-9a-f]{32}", a.sid) and a.sid != b.sid
    assert a.status == "sent"
    assert f"SMS to {mask_phone(TO)}: {len(BODY)} chars" in caplog.text
    assert TO not in caplog.text and BODY not in caplog.text


def test_log_sender_body_at_debug(caplog):
    caplog.set_level(logging.DEBUG, logger="scheduler.adapters.sms")
    LogSender().send(TO, BODY, 1)
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any(BODY in m for m in debug)


def test_mask_phone():
    assert mask_phone("+18055550123") == "+*********23"
    assert mask_phone(None) == "<none>"


# ------------------------------------------------------------------ rate limiter

class FakeTime:
    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_rate_limiter_spaces_acquires():
    t = FakeTime()
    limiter = RateLimiter(1.0, clock=t.clock, sleep=t.sleep)
    for _ in range(3):
        limiter.acquire()
    assert sum(t.sleeps) == pytest.approx(2.0)
    assert t.now == pytest.approx(2.0)


def test_rate_limiter_refills_but_does_not_save_up_beyond_burst():
    t = FakeTime()
    limiter = RateLimiter(3.0, clock=t.clock, sleep=t.sleep)
    limiter.acquire()
    t.now += 100  # idle: still only one token saved
    limiter.acquire()
    assert t.sleeps == []
    limiter.acquire()
    assert t.sleeps == [pytest.approx(1 / 3)]


def test_rate_limiter_segments_and_try_acquire():
    t = FakeTime()
    limiter = RateLimiter(1.0, clock=t.clock, sleep=t.sleep)
    assert limiter.acquire(2) == pytest.approx(1.0)  # a 2-segment text: 1 s of debt
    assert limiter.try_acquire() is False
    t.now += 1.0
    assert limiter.try_acquire() is True


def test_rate_limiter_rejects_bad_rate():
    with pytest.raises(ValueError):
        RateLimiter(0)
