"""Calendars: feeds out, the change feed, webhooks out, busy time in."""
