"""The clinic's reference data: locations, rooms, providers, patients, session types, the demo."""
