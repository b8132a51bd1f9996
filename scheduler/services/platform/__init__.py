"""Cross-cutting plumbing: write_transaction, records, the audit log, leases, idempotency, API
keys, sealed secrets, readiness."""
