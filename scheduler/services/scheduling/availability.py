"""Provider availability: weekly rules (licensed, non-overlapping) and time off."""
from sqlalchemy import or_, select

from ...domain.errors import Conflict, Invalid, NotFound
from ...extensions import db
from ...models import AvailabilityRule, Location, Provider, TimeOff
from ..calendars import changes
from ..platform import records
from ..platform.transaction import write_transaction


def add_rule(provider_id: int, data: dict, actor, now) -> AvailabilityRule:
    with write_transaction():
        provider = records.lock(Provider, provider_id)
        location = db.session.get(Location, data["location_id"])
        if location is None:
            raise Invalid("Unknown location.", errors={"location_id": [f"No location with id {data['location_id']}."]})
        if location.state not in (provider.licensed_states or []):
            raise Invalid(f"{provider.name} is not licensed in {location.state}.", code="license",
                          errors={"location_id": [f"The provider holds no {location.state} licence."]})
        clash = _overlapping_rule(provider_id, data)
        if clash is not None:
            raise Conflict(f"Overlaps rule {clash.id} (a provider is in one place at a time).",
                           code="rule_overlap")
        rule = records.add(AvailabilityRule(provider_id=provider_id, **data), actor)
        _rule_change("availability.rule_added", rule, now)
    return rule


def remove_rule(provider_id: int, rule_id: int, actor, now) -> None:
    _remove(AvailabilityRule, rule_id, provider_id, "availability rule", actor,
            lambda rule: _rule_change("availability.rule_removed", rule, now))


def list_rules(provider_id: int, limit: int, after: int | None) -> records.Page:
    return _of_provider(AvailabilityRule, provider_id, limit, after)


def add_time_off(provider_id: int, data: dict, actor, now) -> TimeOff:
    with write_transaction():
        records.lock(Provider, provider_id)
        entry = records.add(TimeOff(provider_id=provider_id, **data), actor)
        _time_off_change("time_off.added", entry, now)
    return entry


def list_time_off(provider_id: int, limit: int, after: int | None) -> records.Page:
    return _of_provider(TimeOff, provider_id, limit, after)


def remove_time_off(provider_id: int, time_off_id: int, actor, now) -> None:
    _remove(TimeOff, time_off_id, provider_id, "time off", actor,
            lambda entry: _time_off_change("time_off.removed", entry, now))


def _remove(model, row_id: int, provider_id: int, label: str, actor, record_change) -> None:
    """Delete one of the provider's rows (another provider's is a 404), telling the feed."""
    with write_transaction():
        row = records.lock(model, row_id, label)
        if row.provider_id != provider_id:
            raise NotFound(f"No {label} with id {row_id} for provider {provider_id}.")
        record_change(row)
        records.remove(row, actor)


def _of_provider(model, provider_id: int, limit: int, after: int | None) -> records.Page:
    records.get(Provider, provider_id)
    return records.page(model, limit, after, model.provider_id == provider_id)


def _rule_change(kind: str, rule: AvailabilityRule, now) -> None:
    changes.record(kind, "availability_rule", rule.id, now, provider_id=rule.provider_id,
                   location_id=rule.location_id, data={
                       "weekday": rule.weekday, "start_time": rule.start_time.isoformat(),
                       "end_time": rule.end_time.isoformat(),
                       "valid_from": rule.valid_from.isoformat() if rule.valid_from else None,
                       "valid_until": rule.valid_until.isoformat() if rule.valid_until else None})


def _time_off_change(kind: str, entry: TimeOff, now) -> None:
    changes.record(kind, "time_off", entry.id, now, provider_id=entry.provider_id,
                   start=entry.start_at, end=entry.end_at)


def _overlapping_rule(provider_id: int, data: dict):
    query = select(AvailabilityRule).where(
        AvailabilityRule.provider_id == provider_id,
        AvailabilityRule.weekday == data["weekday"],
        AvailabilityRule.start_time < data["end_time"],
        AvailabilityRule.end_time > data["start_time"])
    if data.get("valid_until"):
        query = query.where(or_(AvailabilityRule.valid_from.is_(None),
                                AvailabilityRule.valid_from <= data["valid_until"]))
    if data.get("valid_from"):
        query = query.where(or_(AvailabilityRule.valid_until.is_(None),
                                AvailabilityRule.valid_until >= data["valid_from"]))
    return db.session.scalars(query.limit(1)).first()
