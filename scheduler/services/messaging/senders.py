"""The SMS sender for this process: Twilio when configured, the log-only one otherwise."""
from flask import current_app

from ...adapters.sms import LogSender, RateLimiter, TwilioSender


def sender_and_limiter():
    """One sender and one rate limiter per app (per process): built once, shared by threads."""
    app = current_app
    cached = app.extensions.get("sms_sender")
    if cached is None:
        settings = app.extensions["settings"]
        if settings.twilio_enabled:
            sender = TwilioSender(
                settings.twilio_account_sid, settings.twilio_auth_token,
                from_number=settings.twilio_from_number,
                messaging_service_sid=settings.twilio_messaging_service_sid,
                api_base_url=settings.twilio_api_base_url,
                status_callback_base_url=settings.public_base_url)
            limiter = RateLimiter(settings.sms_rate_per_second)
        else:
            sender, limiter = LogSender(), None
        cached = app.extensions["sms_sender"] = (sender, limiter)
    return cached
