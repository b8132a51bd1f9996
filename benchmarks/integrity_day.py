"""How long the whole-schedule checks take on one busy location-day (pure domain, no database).

    .venv/bin/python -m benchmarks.integrity_day

Builds a clinic of two locations sharing two nurses, fills one day at the first with about
100 appointments that slot search offers (a realistic, rule-abiding day), then times
integrity.violations and audit.audit over that location-day, and snapshot + check_start for
one more booking. Prints one JSON line.
"""
from __future__ import annotations

import json
import random
import statistics
import time as clock
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from scheduler.domain.audit import audit
from scheduler.domain.availability import snapshot
from scheduler.domain.integrity import violations
from scheduler.domain.intervals import Interval
from scheduler.domain.schedule import (
    AppointmentFacts,
    LocationFacts,
    PatientFacts,
    ProviderFacts,
    RoomFacts,
    RuleFacts,
    Schedule,
    SessionTypeFacts,
)
from scheduler.domain.scheduling import check_start, search

LA = "America/Los_Angeles"
DAY = date(2030, 1, 8)
PAST = datetime(2029, 1, 1, tzinfo=timezone.utc)
OPEN = {d: [["07:00", "20:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
TYPES = [
    SessionTypeFacts("ketamine_iv", "dosing", frozenset({"nurse", "prescriber"}), "treatment", 40, 60),
    SessionTypeFacts("ketamine_im", "dosing", frozenset({"nurse", "prescriber"}), "treatment", 15, 60),
    SessionTypeFacts("esketamine_nasal", "dosing", frozenset({"prescriber", "nurse"}), "treatment", 15, 120, rems=True),
    SessionTypeFacts("integration", "integration", frozenset({"therapist"}), "therapy", 50, telehealth_allowed=True),
    SessionTypeFacts("consultation", "consultation", frozenset({"prescriber"}), "therapy", 60, telehealth_allowed=True),
]


def clinic() -> Schedule:
    locs = [LocationFacts(1, LA, "CA", OPEN, ratio=3), LocationFacts(2, LA, "CA", OPEN, ratio=3)]
    rooms = [RoomFacts(i, 1, "treatment") for i in range(1, 13)] + [RoomFacts(i, 1, "therapy") for i in range(13, 19)]
    rooms += [RoomFacts(i, 2, "treatment") for i in range(19, 23)]
    staff = [(1, "prescriber"), (2, "prescriber"), (3, "prescriber"), (4, "prescriber")] + \
        [(i, "nurse") for i in range(5, 13)] + [(i, "therapist") for i in range(13, 17)]
    providers = [ProviderFacts(pid, frozenset({cap}), frozenset({"CA"})) for pid, cap in staff]
    rules, rid = [], 1
    for pid, _ in staff:
        for loc, hours in ((1, (time(7), time(19))),) + (((2, (time(7), time(19))),) if pid in (5, 6) else ()):
            for wd in range(7):
                rules.append(RuleFacts(rid, pid, loc, wd, *hours))
                rid += 1
    patients = [PatientFacts(i, "CA", True) for i in range(1, 400)]
    return Schedule.of(locs, rooms, providers, rules, session_types=TYPES, patients=patients)


def fill(schedule: Schedule, target: int, seed: int = 7) -> Schedule:
    rnd = random.Random(seed)
    tz = ZoneInfo(LA)
    day = Interval(datetime.combine(DAY, time(0), tz), datetime.combine(DAY + timedelta(days=1), time(0), tz))
    loc = schedule.locations[1]
    patient = 1
    for _ in range(target * 4):
        if len(schedule.appointments) >= target:
            break
        code = rnd.choice(["ketamine_iv", "ketamine_iv", "ketamine_im", "esketamine_nasal", "integration",
                           "consultation"])
        snap = snapshot(schedule, 1, code, day, patient)
        slots = search(snap.site, snap.spec, day, snap.staff, snap.rooms, PAST, snap.patient)
        if not slots:
            continue
        slot = rnd.choice(slots)
        out = check_start(snap.site, snap.spec, slot.start, snap.staff, snap.rooms, PAST, snap.patient)
        a = AppointmentFacts.from_phases(schedule.next_appointment_id(), out.phases, patient_id=patient,
                                         provider_id=out.providers[0], location=loc, room_id=out.rooms[0],
                                         type_code=code)
        schedule = schedule.with_appointment(a)
        patient += 1
    return schedule


def timed(fn, runs: int) -> float:
    """Median and least CPU milliseconds of this process (the machine may be shared: wall time lies)."""
    samples = []
    for _ in range(runs):
        t0 = clock.process_time()
        fn()
        samples.append(clock.process_time() - t0)
    return round(statistics.median(samples) * 1000, 2), round(min(samples) * 1000, 2)


def main() -> None:
    t0 = clock.perf_counter()
    schedule = fill(clinic(), 100)
    built = clock.perf_counter() - t0
    scope = {(1, DAY)}

    def fresh():  # the Schedule caches its indexes: time a cold one, as after a load
        return Schedule.of(schedule.locations.values(), schedule.rooms.values(), schedule.providers.values(),
                           schedule.rules.values(), session_types=schedule.session_types.values(),
                           patients=schedule.patients.values(), appointments=schedule.appointments.values())

    tz = ZoneInfo(LA)
    start = datetime.combine(DAY, time(12), tz)

    def one_check():
        s = fresh()
        snap = snapshot(s, 1, "ketamine_iv", Interval(start, start + timedelta(minutes=1)), 1)
        check_start(snap.site, snap.spec, start, snap.staff, snap.rooms, PAST, snap.patient)

    result = {
        "appointments": len(schedule.appointments),
        "fill_seconds": round(built, 1),
        "violations_found": len(violations(schedule, scope)),
        "audit_found": len(audit(schedule, scope)),
        "integrity_cpu_ms_median_min": timed(lambda: violations(fresh(), scope), 30),
        "audit_cpu_ms_median_min": timed(lambda: audit(fresh(), scope), 5),
        "snapshot_and_check_start_cpu_ms_median_min": timed(one_check, 30),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
