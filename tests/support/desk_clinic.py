"""A small clinic for the front desk's tests (views and browser), and a busy day for its timing.

The clock of the tests stands at Tue 2030-01-01 08:00 in Los Angeles; the day's sessions
are booked through the booking service itself, so they carry real phases and texts.
"""
import datetime as dt
from zoneinfo import ZoneInfo

from scheduler.extensions import db
from scheduler.models import Message, Patient, Room
from scheduler.services.scheduling import booking
from scheduler.services.scheduling.slots import find_slots
from tests.support import clinic

LA = ZoneInfo("America/Los_Angeles")
DAY = dt.date(2030, 1, 1)


def at(hm: str, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.fromisoformat(hm), tzinfo=LA).astimezone(dt.timezone.utc)


def seed_clinic() -> dict:
    """Pasadena (07:00-19:00 every day), three chairs and an office, a nurse, a prescriber,
    a therapist; three patients (one not cleared for dosing)."""
    loc = clinic.location("Pasadena", opening=("07:00", "19:00"))
    chairs = [Room(location_id=loc.id, name=f"Chair {i}", kind="treatment") for i in (1, 2, 3)]
    office = Room(location_id=loc.id, name="Office A", kind="therapy")
    db.session.add_all([*chairs, office])
    nurse = clinic.provider("Hannah Park, RN", ["nurse"], at=loc, hours=("07:00", "19:00"))
    prescriber = clinic.provider("Dr. Maya Chen, MD", ["prescriber"], at=loc, hours=("08:00", "17:00"))
    therapist = clinic.provider("Ana Silva, LMFT", ["therapist"], at=loc, hours=("08:00", "17:00"))
    jordan = clinic.patient(loc, "Jordan Ellis", "+18055550111")
    jordan.date_of_birth = dt.date(1980, 4, 2)
    riley = clinic.patient(loc, "Riley Morgan", "+16265550112")
    riley.date_of_birth = dt.date(1991, 11, 30)
    casey = clinic.patient(loc, "Casey Nguyen", "+15035550113", cleared=False)
    db.session.flush()
    clinic.commit()
    return dict(location=loc, chairs=chairs, office=office, nurse=nurse, prescriber=prescriber,
                therapist=therapist, jordan=jordan, riley=riley, casey=casey)


def book(patient: Patient, session_type: str, start: dt.datetime, now: dt.datetime, **extra):
    req = booking.BookingRequest(patient_id=patient.id, session_type=session_type,
                                 location_id=patient.home_location_id, start=start, **extra)
    appointment, _ = booking.book(req, "seed", now)
    return appointment


def fail_a_text(appointment) -> Message:
    """Mark the first text of an appointment undelivered, as Twilio's callback would."""
    message = db.session.query(Message).filter_by(appointment_id=appointment.id).order_by(Message.id).first()
    message.status, message.error_code = "undelivered", 30003
    db.session.commit()
    return message


def seed_busy_day(count: int, now: dt.datetime, day: dt.date = DAY) -> list:
    """A location-day with ``count`` appointments: dosing, integration and consultation,
    each at the first start the rules allow (so the day fills up realistically)."""
    loc = clinic.location("Busy", opening=("06:00", "22:00"), ratio=3)
    clinic.rooms(loc, "treatment", 12)
    clinic.rooms(loc, "therapy", 6)
    for i in range(8):
        clinic.provider(f"Nurse {i + 1}", ["nurse"], at=loc, hours=("06:00", "22:00"))
    for i in range(3):
        clinic.provider(f"Prescriber {i + 1}", ["prescriber"], at=loc, hours=("06:00", "22:00"))
    for i in range(6):
        clinic.provider(f"Therapist {i + 1}", ["therapist"], at=loc, hours=("06:00", "22:00"))
    clinic.commit()
    kinds = ("ketamine_iv", "ketamine_im", "integration", "consultation", "ketamine_sublingual")
    window = (at("06:00", day), at("22:00", day))
    booked = []
    for i in range(count * 3):
        if len(booked) == count:
            break
        patient = clinic.patient(loc, f"Patient {i + 1:03d}", f"+1805555{i:04d}")
        clinic.commit()
        kind = kinds[i % len(kinds)]
        slots = find_slots(loc.id, kind, *window, now, patient_id=patient.id).slots
        if slots:
            chosen = slots[(i * 7) % len(slots)]
            booked.append(book(patient, kind, chosen.start, now, ride_arranged=(i % 3 != 0)))
    return booked
