"""Texts: the outbox, sending, delivery status, patients' replies, templates, senders."""
