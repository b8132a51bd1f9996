"""Scheduling use cases: booking, slot search, provider availability, reading appointments, and
snapshot.py (rows to the scheduling rules' values and back)."""
