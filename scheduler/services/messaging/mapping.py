"""Rows to the messaging rules' values: a location as the clinic a text speaks for and the
policy it follows, an appointment as the visit a text is about."""
from __future__ import annotations

import datetime as dt

from ...domain import reminders
from ...domain.localtime import parse_wall_time
from ...models import Appointment, Location


def clinic_of(location: Location) -> reminders.Clinic:
    return reminders.Clinic(
        display_name=location.sms_display_name, phone=pretty_phone(location.phone),
        address=location.address or "", tz=location.timezone,
        quiet_start=parse_wall_time(location.quiet_start),
        quiet_end=parse_wall_time(location.quiet_end))


def policy_of(location: Location) -> reminders.Policy:
    return reminders.Policy(profile=location.sms_profile, max_per_day=location.sms_max_per_day,
                            max_per_week=location.sms_max_per_week)


def visit_of(appt: Appointment, start: dt.datetime | None = None) -> reminders.Visit:
    st = appt.session_type
    return reminders.Visit(appointment_id=appt.id, start=start or appt.start_at, category=st.category,
                           session_type_code=st.code, instructions=st.instructions or {},
                           telehealth=appt.telehealth)


def pretty_phone(e164: str) -> str:
    """+18055550100 -> (805) 555-0100 for US numbers; others stay E.164."""
    if e164.startswith("+1") and len(e164) == 12:
        return f"({e164[2:5]}) {e164[5:8]}-{e164[8:]}"
    return e164
