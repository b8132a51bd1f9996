"""Reading form and query fields: each reader records a readable error instead of raising."""
import datetime as dt
import re

import marshmallow as ma

from ..api.fields import MAX_ID, Phone

WALL = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class Fields:
    """One form's values: ``f.integer("patient_id")`` and friends, errors gathered by field."""

    def __init__(self, source):
        self.source = source
        self.errors: dict[str, str] = {}

    def text(self, name: str, required: bool = False, max_length: int = 500) -> str:
        value = " ".join(str(self.source.get(name, "")).split()) if name != "notes" \
            else str(self.source.get(name, "")).strip()
        if "\x00" in value:
            self.errors[name] = "Must not contain NUL characters."
        elif required and not value:
            self.errors[name] = "Required."
        elif len(value) > max_length:
            self.errors[name] = f"At most {max_length} characters."
        return value

    def integer(self, name: str, required: bool = False) -> int | None:
        raw = str(self.source.get(name, "")).strip()
        if not raw:
            if required:
                self.errors[name] = "Required."
            return None
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
            self.errors[name] = "Not a valid choice."
            return None
        return int(raw)

    def day(self, name: str, required: bool = False, default: dt.date | None = None,
            earliest: dt.date = dt.date(2000, 1, 1), latest: dt.date = dt.date(2099, 12, 31)) -> dt.date | None:
        raw = str(self.source.get(name, "")).strip()
        if not raw:
            if required and default is None:
                self.errors[name] = "Required."
            return default
        try:
            value = dt.date.fromisoformat(raw)
        except ValueError:
            self.errors[name] = "A date like 2030-01-07."
            return default
        if not earliest <= value <= latest:
            self.errors[name] = f"A date between {earliest.isoformat()} and {latest.isoformat()}."
            return default
        return value

    def wall(self, name: str) -> dt.time | None:
        raw = str(self.source.get(name, "")).strip()
        match = WALL.match(raw)
        if not match:
            self.errors[name] = "A time like 09:30." if raw else "Required."
            return None
        return dt.time(int(match[1]), int(match[2]))

    def instant(self, name: str) -> dt.datetime | None:
        raw = str(self.source.get(name, "")).strip()
        try:
            value = dt.datetime.fromisoformat(raw)
        except ValueError:
            value = None
        if value is None or value.tzinfo is None:
            self.errors[name] = "Not a time this page offered."
            return None
        return value.astimezone(dt.timezone.utc)

    def flag(self, name: str) -> bool:
        return str(self.source.get(name, "")).lower() in ("1", "true", "on", "yes")

    def phone(self, name: str) -> str:
        raw = self.text(name, required=True, max_length=40)
        if name in self.errors:
            return raw
        try:
            return Phone().deserialize(raw)  # the API's reading: E.164, US numbers may omit +1
        except ma.ValidationError:
            self.errors[name] = "Not a phone number we can text, e.g. (805) 555-0100."
            return raw
