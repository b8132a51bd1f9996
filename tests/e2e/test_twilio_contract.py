"""Contract: every kind of request the SMS adapter sends is one Twilio's API accepts.

Prism serves Twilio's own OpenAPI description and validates each request against it (422
for a request Twilio would refuse). Its answers are the description's example Message, so
these tests check acceptance and that our client parses the answer, not the echoed values
(tests/unit/test_sms_adapter.py asserts on what is sent, against a recording fake).
"""

from __future__ import annotations

import pytest

from scheduler.adapters.sms import PermanentSmsError, SendResult, TwilioSender
from scheduler.domain.segments import count_segments
from tests.support.prism import prism_fixture

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "contract-test-token"
FROM = "+18055550100"
MG_SID = "MG" + "fedcba9876543210" * 2
TO = "+18055550123"
CALLBACK_BASE = "https://clinic.example.com"
SHORT = "Sunrise Clinic: reminder, Tue Mar 3 9:00 AM, 12 Oak St. Reply C to confirm, STOP to end."
LONG = ("Sunrise Clinic: see you tomorrow, Tue Mar 3 at 9:00 AM, 12 Oak St, Suite 4. Please "
        "arrive 15 min early. A ride home is required; no driving until the next day. "
        "Questions: 805-555-0100. Reply C to confirm, STOP to opt out.")
EMOJI = "Sunrise Clinic: see you Tue Mar 3 at 9:00 AM 🙂 Reply C to confirm, STOP to opt out."

prism = pytest.fixture(scope="module")(prism_fixture)


def sender_for(prism, **overrides) -> TwilioSender:
    kwargs = dict(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number=FROM,
                  messaging_service_sid=None, api_base_url=prism.base_url,
                  status_callback_base_url=CALLBACK_BASE, timeout=10)
    kwargs.update(overrides)
    return TwilioSender(**kwargs)


def assert_accepted(result: SendResult) -> None:
    assert isinstance(result, SendResult)
    assert result.sid.startswith("SM") and len(result.sid) == 34
    assert result.status  # the example's "queued"


@pytest.mark.parametrize("overrides, body", [
    pytest.param({}, SHORT, id="from-with-callback"),
    pytest.param({"status_callback_base_url": None}, SHORT, id="from-without-callback"),
    pytest.param({"from_number": None, "messaging_service_sid": MG_SID}, SHORT,
                 id="messaging-service-with-callback"),
    pytest.param({"from_number": None, "messaging_service_sid": MG_SID,
                  "status_callback_base_url": None}, SHORT,
                 id="messaging-service-without-callback"),
    pytest.param({}, LONG, id="two-segment-body"),
    pytest.param({}, EMOJI, id="non-gsm-body"),
])
def test_request_is_accepted(prism, overrides, body):
    assert_accepted(sender_for(prism, **overrides).send(TO, body, message_ref=1))


def test_bodies_are_what_they_claim():
    assert count_segments(LONG) == 2
    # one emoji makes the whole text UCS-2: 84 characters are 2 segments
    assert not EMOJI.isascii() and count_segments(EMOJI) == 2


@pytest.mark.parametrize("overrides", [
    pytest.param({"account_sid": "AC-not-a-sid"}, id="bad-account-sid"),
    pytest.param({"from_number": None, "messaging_service_sid": "MG123"},
                 id="bad-messaging-service-sid"),
    pytest.param({"status_callback_base_url": "not a url"}, id="malformed-status-callback"),
])
def test_invalid_request_is_refused_as_permanent(prism, overrides):
    with pytest.raises(PermanentSmsError) as info:
        sender_for(prism, **overrides).send(TO, SHORT, message_ref=1)
    assert info.value.http_status == 422  # Prism: "Twilio would refuse this"
    assert info.value.code is None
    assert info.value.retryable is False
