"""Slot search: bookable starts for a session type at a location, by the booking rules."""
import datetime as dt
from dataclasses import dataclass

from ...domain.errors import Invalid
from ...domain.intervals import Interval
from ...domain.scheduling import Slot, search
from ...extensions import db
from ...models import Appointment, Location, Patient, Provider
from ..clinic.session_types import active_session_type
from ..platform import records
from .snapshot import load_snapshot

MAX_WINDOW = dt.timedelta(days=31)


@dataclass(frozen=True)
class SlotSearch:
    slots: list[Slot]
    timezone: str  # the location's: the zone the answer's times are shown in


def find_slots(location_id: int, session_type: str, start: dt.datetime | None, end: dt.datetime | None,
               now: dt.datetime, provider_id: int | None = None, patient_id: int | None = None,
               telehealth: bool = False, follows_appointment_id: int | None = None) -> SlotSearch:
    location = db.session.get(Location, location_id)  # loaded anyway: no separate existence check
    errors = {} if location else {"location_id": [f"No location with id {location_id}."]}
    try:
        records.require_refs(patient_id=(Patient, patient_id), provider_id=(Provider, provider_id),
                             follows_appointment_id=(Appointment, follows_appointment_id))
    except Invalid as exc:
        errors.update(exc.errors)
    if errors:
        raise Invalid("Some fields name rows that do not exist.", errors=errors)
    st = active_session_type(session_type)
    patient = db.session.get(Patient, patient_id) if patient_id else None
    if follows_appointment_id is not None:
        first = db.session.get(Appointment, follows_appointment_id)
        # An integration session defaults to the hours after the dosing session it follows.
        start = start or first.end_at
        end = end or first.end_at + dt.timedelta(hours=st.follow_window_hours, minutes=1)
        start = max(start, first.end_at)
    if start is None or end is None:
        missing = {k: ["Missing data for required field."] for k, v in (("start", start), ("end", end)) if v is None}
        raise Invalid("start and end are required (or follows_appointment_id).", errors=missing)
    if end <= start:
        raise Invalid("end must be after start.", errors={"end": ["Must be after start."]})
    if end - start > MAX_WINDOW:
        raise Invalid("A search spans at most 31 days.", errors={"end": ["At most 31 days after start."]})
    window = Interval(start, end)
    snap = load_snapshot(location, st, window, patient)
    return SlotSearch(search(snap.site, snap.spec, window, snap.staff, snap.rooms, now, snap.patient,
                             telehealth, provider_id), location.timezone)
