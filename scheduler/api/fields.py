"""Marshmallow fields shared by the resources: instants, wall-clock times, phones, cursors,
URLs we will fetch."""
import base64
import binascii
import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import marshmallow as ma
import phonenumbers

from ..domain.localtime import WEEKDAYS, format_wall_time, parse_wall_time

DEFAULT_TZ = "America/Los_Angeles"
US_STATES = {
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM",
    "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA",
    "WV", "WI", "WY",
}
# Ids are 32-bit columns: a larger number names no row (422 in a body, 404 in a path), and
# never reaches the database, where it would overflow (SQLite above 2**63, PostgreSQL's int4).
MAX_ID = 2**31 - 1
MIN_INSTANT = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
MAX_INSTANT = dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc)


def validate_date_range(value: dt.date) -> None:
    """Dates bound like instants: year 1 or 9999 is a typo, and would overflow the day maths."""
    if not MIN_INSTANT.date() <= value < MAX_INSTANT.date():
        raise ma.ValidationError("Must be a date between 2000-01-01 and 2099-12-31.")


class Instant(ma.fields.DateTime):
    """RFC 3339 with an offset in; out in the zone of the object's location.

    The zone comes from the serialised object's ``display_tz`` attribute (a location's
    IANA zone); an instant without an offset is refused (422), never guessed.
    """

    default_error_messages = {
        "naive": "Give an offset or Z (RFC 3339), e.g. 2030-01-07T09:00:00-08:00.",
        "range": "Must be between 2000-01-01 and 2100-01-01.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).setdefault("example", "2030-01-07T09:00:00-08:00")
        super().__init__(format="iso", **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        holder = obj.get("display_tz") if isinstance(obj, dict) else getattr(obj, "display_tz", None)
        tz = holder or DEFAULT_TZ
        return value.astimezone(ZoneInfo(tz)).isoformat()

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        if result.tzinfo is None or result.utcoffset() is None:
            raise self.make_error("naive")
        try:
            result = result.astimezone(dt.timezone.utc)
        except OverflowError:  # 0001-01-01T00:00+00:01 is in year 0, 9999-12-31T23:59-00:01 in 10000
            raise self.make_error("range") from None
        if not MIN_INSTANT <= result < MAX_INSTANT:
            raise self.make_error("range")
        return result


class WallTime(ma.fields.Field):
    """A wall-clock time "HH:MM" in a location's zone; "24:00" (the end of the day) only
    where the field ends a span (``end=True``)."""

    def __init__(self, *, end: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.end = end

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else format_wall_time(value)

    def _deserialize(self, value, attr, data, **kwargs):
        return wall_time(value, end=self.end)


def wall_time(value, *, end: bool = False) -> dt.time:
    """The domain's one wall-time parser, its refusal as a validation error."""
    try:
        return parse_wall_time(value, end=end)
    except ValueError as exc:
        raise ma.ValidationError(str(exc)) from None


class Weekday(ma.fields.Field):
    default_error_messages = {"invalid": "Expected one of mon, tue, wed, thu, fri, sat, sun."}

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else WEEKDAYS[value]

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or value.lower() not in WEEKDAYS:
            raise self.make_error("invalid")
        return WEEKDAYS.index(value.lower())


class Phone(ma.fields.String):
    """A phone number, stored and returned in E.164; US numbers may omit +1."""

    default_error_messages = {"phone": "Not a valid phone number (E.164, e.g. +18055550100)."}

    def _deserialize(self, value, attr, data, **kwargs):
        raw = super()._deserialize(value, attr, data, **kwargs)
        if len(raw) > 40:
            raise self.make_error("phone")
        try:
            number = phonenumbers.parse(raw, "US")
        except phonenumbers.NumberParseException:
            raise self.make_error("phone") from None
        if not phonenumbers.is_valid_number(number):
            raise self.make_error("phone")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def validate_timezone(value: str) -> None:
    if value not in _zones():
        raise ma.ValidationError("Not an IANA time zone, e.g. America/Los_Angeles.")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ma.ValidationError("Not an IANA time zone, e.g. America/Los_Angeles.") from None


_ZONES: set | None = None


def _zones() -> set:
    global _ZONES
    if _ZONES is None:
        _ZONES = available_timezones()
    return _ZONES


def validate_state(value: str) -> None:
    if value not in US_STATES:
        raise ma.ValidationError("Not a US state code, e.g. CA or OR.")


class Cursor(ma.fields.String):
    """An opaque position in a list: the API's cursor string outside, the id to continue
    after inside (a value this API never gave out is a 422)."""

    default_error_messages = {"long": "Not a cursor this API gave out."}

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else encode_cursor(value)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > 100:
            raise self.make_error("long")
        return decode_cursor(text)


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = raw.partition(":")
        if kind != "id" or not value.isdigit() or int(value) > MAX_ID:
            raise ValueError
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ma.ValidationError("Not a cursor this API gave out.") from None


class OutboundUrl(ma.fields.String):
    """A URL this service will fetch or post to (a calendar, a webhook receiver). Only its
    length is checked here: the service checks it against the outbound policy
    (adapters/outbound.py), so every refusal says why (422, code outbound_refused)."""

    def __init__(self, *, max_length: int, **kwargs):
        kwargs.setdefault("metadata", {}).update(
            format="uri", description="http or https, to a public address (or a host in OUTBOUND_ALLOWED_HOSTS); "
            "loopback, private, link-local and similar addresses are refused")
        super().__init__(validate=ma.validate.Length(min=1, max=max_length), **kwargs)
