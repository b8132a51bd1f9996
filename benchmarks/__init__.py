"""The benchmarks: `make bench` (run.py), `make load` (load.py), `make faults` (faults.py).

Orchestrator: run.py runs the parts in order and nothing imports it.
One module per benchmark: slot_search, booking_throughput, contention (and the double-booking
check), booking_profile, calendar_bench (calendar_feed + calendar_busy), load, faults.
Shared pieces, imported by those and never importing them back: app (the app under test),
generate (the standard clinic), clinic (a fresh clinic, keys, distinct slots to book), clients
(the load's client threads), pgadmin (PostgreSQL: databases, server facts, the cluster),
processes (gunicorn, the worker, CPU accounting), fakes (fake Twilio, a hanging server),
measure (statistics, statement counts, profiling) and report (BENCHMARKS.md and the raw JSON).
tests/unit/test_benchmarks_layout.py checks that the imports form no circle.
"""
