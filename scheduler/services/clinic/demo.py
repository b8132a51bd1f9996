"""The demo clinic for `make run`: the practice's three real locations, a realistic staff.

Idempotent: every row is found by a natural key (slug, name) before it is added.
"""
import datetime as dt

from sqlalchemy import select

from ...extensions import db
from ...models import AvailabilityRule, Location, Patient, Provider, Room, TravelTime
from .session_types import seed_session_types

WEEKDAYS_OPEN = {d: [["07:00", "19:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
LOCATIONS = [
    dict(slug="santa-barbara", name="Santa Barbara", timezone="America/Los_Angeles", state="CA",
         phone="+18055550100", sms_display_name="SB Wellness Clinic",
         address="1 Demo Way, Santa Barbara, CA 93101",
         opening_hours={**WEEKDAYS_OPEN, "sat": [["08:00", "14:00"]]},
         rooms=[("Chair 1", "treatment"), ("Chair 2", "treatment"), ("Chair 3", "treatment"),
                ("Chair 4", "treatment"), ("Office A", "therapy"), ("Office B", "therapy")]),
    dict(slug="pasadena", name="Pasadena", timezone="America/Los_Angeles", state="CA",
         phone="+16265550100", sms_display_name="Pasadena Wellness Clinic",
         address="2 Demo Avenue, Pasadena, CA 91101", opening_hours=WEEKDAYS_OPEN,
         rooms=[("Chair 1", "treatment"), ("Chair 2", "treatment"), ("Chair 3", "treatment"),
                ("Chair 4", "treatment"), ("Office A", "therapy"), ("Office B", "therapy")]),
    dict(slug="portland", name="Portland", timezone="America/Los_Angeles", state="OR",
         phone="+15035550100", sms_display_name="Portland Wellness Clinic",
         address="3 Demo Street, Portland, OR 97205", opening_hours=WEEKDAYS_OPEN,
         rooms=[("Chair 1", "treatment"), ("Chair 2", "treatment"), ("Chair 3", "treatment"),
                ("Office A", "therapy"), ("Office B", "therapy")]),
]
# name, capabilities, licences, {weekday: location slug}; hours 08:00-17:00.
MON_FRI = ("mon", "tue", "wed", "thu", "fri")
STAFF = [
    ("Dr. Maya Chen, MD", ["prescriber"], ["CA", "OR"],
     {"mon": "santa-barbara", "tue": "pasadena", "wed": "santa-barbara", "thu": "pasadena",
      "fri": "portland"}),
    ("Dr. Samuel Ortiz, MD", ["prescriber"], ["CA"],
     {"mon": "pasadena", "tue": "santa-barbara", "wed": "pasadena", "thu": "santa-barbara",
      "fri": "santa-barbara"}),
    ("Grace Kim, PMHNP", ["prescriber"], ["OR"], {d: "portland" for d in MON_FRI}),
    ("Luis Romero, RN", ["nurse"], ["CA"], {d: "santa-barbara" for d in MON_FRI}),
    ("Hannah Park, RN", ["nurse"], ["CA"], {d: "pasadena" for d in MON_FRI}),
    ("Daniel Reyes, RN", ["nurse"], ["CA", "OR"],
     {"mon": "pasadena", "tue": "santa-barbara", "wed": "pasadena", "thu": "santa-barbara",
      "fri": "pasadena"}),
    ("Olivia Brooks, RN", ["nurse"], ["OR"], {d: "portland" for d in MON_FRI}),
    ("Ana Silva, LMFT", ["therapist"], ["CA"], {d: "santa-barbara" for d in MON_FRI}),
    ("Ben Foster, LCSW", ["therapist"], ["CA", "OR"],
     {"mon": "portland", "tue": "portland", "wed": "pasadena", "thu": "pasadena", "fri": "portland"}),
    ("Priya Nair, PsyD", ["therapist"], ["CA"], {d: "pasadena" for d in MON_FRI}),
]
PATIENTS = [
    ("Jordan Ellis", "+18055550111", "santa-barbara", True, dt.date(2026, 10, 1)),
    ("Riley Morgan", "+16265550112", "pasadena", True, None),
    ("Casey Nguyen", "+15035550113", "portland", True, dt.date(2026, 9, 15)),
    ("Avery Thompson", "+18055550114", "santa-barbara", False, None),
]


def seed_demo() -> dict:
    counts = {"session types": seed_session_types(), "locations": 0, "rooms": 0,
              "providers": 0, "rules": 0, "patients": 0, "travel times": 0}
    locations = {}
    for spec in LOCATIONS:
        spec = dict(spec)
        rooms = spec.pop("rooms")
        loc = db.session.scalar(select(Location).where(Location.slug == spec["slug"]))
        if loc is None:
            loc = Location(**spec)
            db.session.add(loc)
            db.session.flush()
            counts["locations"] += 1
        locations[loc.slug] = loc
        have = set(db.session.scalars(select(Room.name).where(Room.location_id == loc.id)))
        for name, kind in rooms:
            if name not in have:
                db.session.add(Room(location_id=loc.id, name=name, kind=kind))
                counts["rooms"] += 1
    sb, pas = locations["santa-barbara"], locations["pasadena"]
    a, b = sorted((sb.id, pas.id))
    if db.session.scalar(select(TravelTime).where(TravelTime.location_a_id == a,
                                                  TravelTime.location_b_id == b)) is None:
        db.session.add(TravelTime(location_a_id=a, location_b_id=b, minutes=90))
        counts["travel times"] += 1
    from ...domain.localtime import WEEKDAYS

    for name, capabilities, states, days in STAFF:
        provider = db.session.scalar(select(Provider).where(Provider.name == name))
        if provider is None:
            provider = Provider(name=name, capabilities=capabilities, licensed_states=states)
            db.session.add(provider)
            db.session.flush()
            counts["providers"] += 1
        has_rules = db.session.scalar(
            select(AvailabilityRule.id).where(AvailabilityRule.provider_id == provider.id).limit(1))
        if has_rules is None:
            for day, slug in days.items():
                db.session.add(AvailabilityRule(
                    provider_id=provider.id, location_id=locations[slug].id,
                    weekday=WEEKDAYS.index(day), start_time=dt.time(8), end_time=dt.time(17)))
                counts["rules"] += 1
    for name, phone, slug, consent, clearance in PATIENTS:
        if db.session.scalar(select(Patient.id).where(Patient.phone == phone)) is None:
            db.session.add(Patient(name=name, phone=phone, home_location_id=locations[slug].id,
                                   sms_consent=consent, dosing_clearance_date=clearance))
            counts["patients"] += 1
    db.session.flush()
    return counts
