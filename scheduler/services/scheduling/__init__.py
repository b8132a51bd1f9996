"""Scheduling use cases: the snapshot the rules read, booking, slot search, provider availability."""
