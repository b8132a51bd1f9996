"""Clinics: their zone, state, hours, monitoring ratio and what their texts say."""
from ...domain.errors import Invalid
from ...domain.templates import find_forbidden
from ...models import Location
from ..platform import records
from ..platform.transaction import write_transaction


def _check_texts(values: dict) -> None:
    """A clinic's SMS name and address go into every text: they must not name the treatment."""
    errors = {}
    for field in ("sms_display_name", "address"):
        found = find_forbidden(values.get(field) or "")
        if found:
            errors[field] = [f"Texts include this; it must not name the treatment ({', '.join(found)})."]
    if errors:
        raise Invalid("A clinic's SMS name and address go into texts: they must not name the treatment.",
                      code="template_names_treatment", errors=errors)


def create_location(values: dict, actor) -> Location:
    _check_texts(values)
    with write_transaction():
        return records.add(Location(**values), actor)


def update_location(location_id: int, values: dict, actor, expected_version: int | None) -> Location:
    _check_texts(values)
    with write_transaction():
        return records.apply(records.lock_current(Location, location_id, expected_version), values, actor)


def location(location_id: int) -> Location:
    return records.get(Location, location_id)


def list_locations(limit: int, after: int | None) -> records.Page:
    return records.page(Location, limit, after)
