"""Rooms of a location: treatment chairs and therapy offices."""
from ...models import Location, Room
from ..platform import records
from ..platform.transaction import write_transaction


def create_room(location_id: int, values: dict, actor) -> Room:
    with write_transaction():
        records.get(Location, location_id)
        return records.add(Room(**values, location_id=location_id), actor)


def update_room(room_id: int, values: dict, actor, expected_version: int | None) -> Room:
    with write_transaction():
        return records.apply(records.lock_current(Room, room_id, expected_version), values, actor)


def room(room_id: int) -> Room:
    return records.get(Room, room_id)


def list_rooms(location_id: int, limit: int, after: int | None) -> records.Page:
    records.get(Location, location_id)
    return records.page(Room, limit, after, Room.location_id == location_id)
