"""Refusing at registration a URL the outbound policy would refuse at every fetch. The rules
live in adapters/outbound.py; the caller hands in the operator's policy (OUTBOUND_ALLOWED_HOSTS)."""
from ...adapters.outbound import OutboundPolicy, OutboundRefused, check_url
from ...domain.errors import Invalid


def require_allowed(url: str, policy: OutboundPolicy, field: str = "url") -> None:
    """A 422 (code outbound_refused, the reason under ``field``) for a URL the policy refuses."""
    try:
        check_url(url, policy)
    except OutboundRefused as exc:
        raise Invalid(f"This URL may not be used: {exc.reason}.", code="outbound_refused",
                      errors={field: [f"Refused: {exc.reason}."]}) from None
