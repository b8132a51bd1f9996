"""Cross-cutting plumbing: API keys, audit log, idempotency, records, leases, readiness, secrets."""
