"""Providers: capabilities, licences, contact."""
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ...domain.errors import Invalid
from ...extensions import db
from ...models import AvailabilityRule, Location, Provider
from ..platform import records
from ..platform.transaction import write_transaction


def create_provider(values: dict, actor) -> Provider:
    with write_transaction():
        return records.add(Provider(**values), actor)


def update_provider(provider_id: int, values: dict, actor, expected_version: int | None) -> Provider:
    with write_transaction():
        provider = records.lock_current(Provider, provider_id, expected_version)
        if "licensed_states" in values:
            _check_licences_still_cover_rules(provider, set(values["licensed_states"]))
        return records.apply(provider, values, actor)


def _check_licences_still_cover_rules(provider: Provider, states: set) -> None:
    """Dropping a licence is refused while rules still place the provider in that state."""
    rows = db.session.execute(
        select(Location.state, Location.name).join(AvailabilityRule, AvailabilityRule.location_id == Location.id)
        .where(AvailabilityRule.provider_id == provider.id)).all()
    missing = sorted({f"{r.name} ({r.state})" for r in rows if r.state not in states})
    if missing:
        raise Invalid("Availability rules place this provider where the new licences do not reach.",
                      code="license", errors={"licensed_states": [f"Still scheduled at {', '.join(missing)}."]})


def provider(provider_id: int) -> Provider:
    return records.get(Provider, provider_id)


def list_providers(limit: int, after: int | None) -> records.Page:
    return records.page(Provider, limit, after, options=(selectinload(Provider.external_calendars),))
