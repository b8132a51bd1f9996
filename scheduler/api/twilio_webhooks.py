"""Twilio's webhooks: delivery status and patients' replies, each signature-checked.

The signature covers the public URL Twilio called (PUBLIC_BASE_URL + path + query) and
the form fields; a missing or wrong one is a 403 and changes nothing.
"""
import logging

from flask import Blueprint, Response, abort, current_app, request
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from ..services.messaging.replies import handle_reply
from ..services.messaging.status_callbacks import record_status
from .common import now

log = logging.getLogger("scheduler.webhooks")
blp = Blueprint("twilio_webhooks", __name__, url_prefix="/webhooks/twilio")


def _verified_form() -> dict:
    settings = current_app.extensions["settings"]
    signature = request.headers.get("X-Twilio-Signature", "")
    if not settings.twilio_auth_token or not signature:
        abort(403)
    url = settings.public_base_url + request.full_path.rstrip("?")
    form = request.form.to_dict(flat=True)
    if not RequestValidator(settings.twilio_auth_token).validate(url, form, signature):
        log.warning("twilio webhook: bad signature for %s", request.path)
        abort(403)
    return form


def _int(value):
    return int(value) if value and str(value).isdigit() else None


@blp.post("/status")
def status_callback():
    form = _verified_form()
    outcome = record_status(request.args.get("ref"), form.get("MessageSid"), form.get("MessageStatus"),
                            _int(form.get("ErrorCode")), now())
    log.info("twilio status %s for %s: %s", form.get("MessageStatus"), form.get("MessageSid"), outcome)
    return Response(status=204)


@blp.post("/inbound")
def inbound():
    form = _verified_form()
    outcome = handle_reply(form.get("MessageSid") or form.get("SmsSid"), form.get("From", ""),
                           form.get("To"), form.get("Body", ""), now())
    reply = MessagingResponse()
    if outcome.answer:
        reply.message(outcome.answer)
    return Response(str(reply), mimetype="application/xml")


# Outside /api/v1: authenticated by Twilio's signature, not by an API key.
status_callback.allowed_roles = inbound.allowed_roles = frozenset({"twilio-signature"})
