"""Texts: the outbox (planning, reading), sending, Twilio's status callbacks, patients' replies,
templates, and mapping.py (rows to the messaging rules' values)."""
