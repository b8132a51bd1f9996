"""The operator's outbound policy (OUTBOUND_ALLOWED_HOSTS) for the services that fetch or
post to URLs callers give us; the rules themselves live in adapters/outbound.py."""
from flask import current_app

from ...adapters.outbound import OutboundPolicy, OutboundRefused, check_url
from ...domain.errors import Invalid


def policy() -> OutboundPolicy:
    return OutboundPolicy(current_app.extensions["settings"].outbound_allowed_hosts)


def require_allowed(url: str, field: str = "url") -> None:
    """Refuse, at registration, a URL the policy would refuse at every fetch (a 422)."""
    try:
        check_url(url, policy())
    except OutboundRefused as exc:
        raise Invalid(f"This URL may not be used: {exc.reason}.", code="outbound_refused",
                      errors={field: [f"Refused: {exc.reason}."]}) from None
