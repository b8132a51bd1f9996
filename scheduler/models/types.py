"""Column types shared by the models."""
from datetime import datetime, timezone

from sqlalchemy import Column, DateTime, String
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """An instant, stored in UTC and always returned timezone-aware.

    PostgreSQL keeps it as timestamptz. SQLite has no zones, so the value is stored as
    naive UTC text, which also keeps its string comparisons in instant order.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for an instant column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def one_of(column: str, values) -> str:
    """The SQL of a CHECK that ``column`` holds one of ``values`` (domain/vocabulary.py)."""
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


class Leased:
    """A row a worker takes for a while (services/platform/leases.py): who holds it, and
    until when; another worker takes it only after that."""

    lease_owner = Column(String(100))
    lease_until = Column(UTCDateTime)
