"""Builders for the planner's tests: the seeded clinics and session types as plain data,
situations, and "send what the plan says" to grow a history."""
from __future__ import annotations

import dataclasses
from datetime import datetime
from zoneinfo import ZoneInfo

from scheduler.domain.planner import (
    ClinicInfo, Plan, Policy, SentText, Situation, Visit, plan_patient,
)

LA = ZoneInfo("America/Los_Angeles")
IV = {"no_solid_food_hours": 6, "clear_liquids_until_hours": 2}
SUBLINGUAL = {"no_solid_food_hours": 4, "clear_liquids_until_hours": 1}
NASAL = {"no_food_hours": 2, "no_liquids_minutes": 30}
# (code, category, instruction rules, may be online): the seeded defaults (catalog.py).
SESSION_TYPES = [
    ("ketamine_iv", "dosing", IV, False), ("ketamine_im", "dosing", IV, False),
    ("ketamine_sublingual", "dosing", SUBLINGUAL, False),
    ("esketamine_nasal", "dosing", NASAL, False),
    ("integration", "integration", {}, True), ("consultation", "consultation", {}, True),
]
# The seeded clinics (services/clinic/demo.py), as the outbox formats them.
SANTA_BARBARA = ClinicInfo("SB Wellness Clinic", "(805) 555-0100",
                           "1 Demo Way, Santa Barbara, CA 93101")
PASADENA = ClinicInfo("Pasadena Wellness Clinic", "(626) 555-0100",
                      "2 Demo Avenue, Pasadena, CA 91101")
PORTLAND = ClinicInfo("Portland Wellness Clinic", "(503) 555-0100",
                      "3 Demo Street, Portland, OR 97205")
CLINICS = [SANTA_BARBARA, PASADENA, PORTLAND]
ZONES = ["America/Los_Angeles", "America/New_York", "Pacific/Honolulu", "Europe/Madrid"]


def la(*args) -> datetime:
    return datetime(*args, tzinfo=LA)


def visit(appointment_id, start, code="ketamine_iv", clinic=PASADENA, **extra) -> Visit:
    _, category, rules, _ = next(t for t in SESSION_TYPES if t[0] == code)
    return Visit(appointment_id, start, category, clinic, session_type_code=code,
                 instructions=rules, **extra)


def situation(*visits, policy=None, tz="America/Los_Angeles", history=(), one_offs=(),
              consent=True, opted_out=False, phone="+16265550112") -> Situation:
    return Situation(1, phone, consent, opted_out, tz, policy or Policy(), tuple(visits),
                     tuple(history), tuple(one_offs))


def send(plan: Plan, now: datetime, key: str | None = None) -> list[SentText]:
    """History entries for the planned texts due by now (or just `key`), as if sent."""
    return [SentText(t.key, t.kind, t.appointment_id, t.send_at, t.announced_start)
            for t in plan.texts if t.status == "planned" and not t.in_flight
            and (t.key == key if key else t.send_at <= now)]


def replan(s: Situation, now: datetime, **changes) -> Plan:
    return plan_patient(dataclasses.replace(s, **changes), now)


def by_key(plan: Plan) -> dict:
    return {t.key: t for t in plan.texts}


def planned(plan: Plan) -> dict:
    return plan.wanted
