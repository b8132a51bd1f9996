"""Calendars: feeds out, the change feed, webhook subscriptions and delivery, providers' external
calendars (busy time in), a provider's busy time."""
