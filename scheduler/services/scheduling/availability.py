"""Provider availability: weekly rules (licensed, non-overlapping) and time off."""
from sqlalchemy import or_, select

from ...database import begin_write
from ...domain.errors import Conflict, Invalid, NotFound
from ...extensions import db
from ...models import AvailabilityRule, Location, Provider, TimeOff
from ..calendars import changes
from ..platform import audit, records


def check_provider_change(provider: Provider, values: dict) -> None:
    """Dropping a licence is refused while rules still place the provider in that state."""
    if "licensed_states" not in values:
        return
    states = set(values["licensed_states"])
    rows = db.session.execute(
        select(Location.state, Location.name).join(AvailabilityRule,
                                                   AvailabilityRule.location_id == Location.id)
        .where(AvailabilityRule.provider_id == provider.id)).all()
    missing = sorted({f"{r.name} ({r.state})" for r in rows if r.state not in states})
    if missing:
        raise Invalid("Availability rules place this provider where the new licences do not reach.",
                      code="license", errors={"licensed_states": [f"Still scheduled at {', '.join(missing)}."]})


def add_rule(provider_id: int, data: dict, actor: str, now) -> AvailabilityRule:
    begin_write()
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
    rule = AvailabilityRule(provider_id=provider_id, **data)
    db.session.add(rule)
    db.session.flush()
    audit.record(actor, "create", rule)
    _rule_change("availability.rule_added", rule, now)
    db.session.commit()
    return rule


def _rule_change(kind: str, rule: AvailabilityRule, now) -> None:
    changes.record(kind, "availability_rule", rule.id, now, provider_id=rule.provider_id,
                      location_id=rule.location_id, data={
                          "weekday": rule.weekday, "start_time": rule.start_time.isoformat(),
                          "end_time": rule.end_time.isoformat(),
                          "valid_from": rule.valid_from.isoformat() if rule.valid_from else None,
                          "valid_until": rule.valid_until.isoformat() if rule.valid_until else None})


def remove_rule(provider_id: int, rule_id: int, actor: str, now) -> None:
    begin_write()
    rule = records.lock(AvailabilityRule, rule_id, "availability rule")
    if rule.provider_id != provider_id:
        raise NotFound(f"No availability rule with id {rule_id} for provider {provider_id}.")
    audit.record(actor, "delete", rule, before=audit.snapshot(rule), after={})
    _rule_change("availability.rule_removed", rule, now)
    db.session.delete(rule)
    db.session.commit()


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


def add_time_off(provider_id: int, data: dict, actor: str, now) -> TimeOff:
    begin_write()
    records.lock(Provider, provider_id)
    entry = TimeOff(provider_id=provider_id, **data)
    db.session.add(entry)
    db.session.flush()
    audit.record(actor, "create", entry)
    changes.record("time_off.added", "time_off", entry.id, now, provider_id=provider_id,
                      start=entry.start_at, end=entry.end_at)
    db.session.commit()
    return entry


def remove_time_off(provider_id: int, time_off_id: int, actor: str, now) -> None:
    begin_write()
    entry = records.lock(TimeOff, time_off_id, "time off")
    if entry.provider_id != provider_id:
        raise NotFound(f"No time off with id {time_off_id} for provider {provider_id}.")
    audit.record(actor, "delete", entry, before=audit.snapshot(entry), after={})
    changes.record("time_off.removed", "time_off", entry.id, now, provider_id=provider_id,
                      start=entry.start_at, end=entry.end_at)
    db.session.delete(entry)
    db.session.commit()
