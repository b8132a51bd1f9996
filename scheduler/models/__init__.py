"""The schema: every table, constraint and index. Migrations are generated from here."""
from .types import UTCDateTime, utcnow  # noqa: F401
from .clinic import Location, Room, Provider, AvailabilityRule, TimeOff, TravelTime, SessionType  # noqa: F401
from .patients import Patient  # noqa: F401
from .appointments import Appointment  # noqa: F401
from .messaging import InboundMessage, Message, MessageTemplate  # noqa: F401
from .security import ApiKey, AuditEntry, IdempotencyRecord, Heartbeat  # noqa: F401
from .calendar import (BusyBlock, CalendarToken, Change, ExternalCalendar, WebhookAttempt,  # noqa: F401
                       WebhookDelivery, WebhookSubscription)
