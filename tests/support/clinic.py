"""Build small clinics straight in the database for rule tests (the API is tested elsewhere)."""
import datetime as dt


from scheduler.domain.localtime import WEEKDAYS
from scheduler.extensions import db
from scheduler.models import AvailabilityRule, Location, Patient, Provider, Room, TravelTime

LA = "America/Los_Angeles"
ALL_DAYS = WEEKDAYS


def location(name="Pasadena", state="CA", opening=("07:00", "19:00"), ratio=3, days=ALL_DAYS,
             turnover=15, **extra) -> Location:
    slug = name.lower().replace(" ", "-")
    loc = Location(name=name, slug=slug, timezone=LA, state=state, phone="+16265550100",
                   sms_display_name=f"{name} Clinic", address=f"1 Main St, {name}",
                   opening_hours={d: [list(opening)] for d in days}, monitoring_ratio=ratio,
                   turnover_minutes=turnover, **extra)
    db.session.add(loc)
    db.session.flush()
    return loc


def rooms(loc: Location, kind="treatment", count=1) -> list[Room]:
    made = [Room(location_id=loc.id, name=f"{kind} {i + 1}", kind=kind) for i in range(count)]
    db.session.add_all(made)
    db.session.flush()
    return made


def provider(name, capabilities, states=("CA",), at=None, hours=("08:00", "17:00"), days=ALL_DAYS) -> Provider:
    p = Provider(name=name, capabilities=list(capabilities), licensed_states=list(states))
    db.session.add(p)
    db.session.flush()
    if at is not None:
        work(p, at, hours, days)
    return p


def work(p: Provider, loc: Location, hours=("08:00", "17:00"), days=ALL_DAYS, valid_from=None, valid_until=None):
    start, end = (dt.time.fromisoformat(h) for h in hours)
    for day in days:
        db.session.add(AvailabilityRule(provider_id=p.id, location_id=loc.id, weekday=WEEKDAYS.index(day),
                                        start_time=start, end_time=end, valid_from=valid_from,
                                        valid_until=valid_until))
    db.session.flush()


def patient(loc: Location, name="Pat Example", phone="+18055550111", cleared=True, consent=True) -> Patient:
    p = Patient(name=name, phone=phone, home_location_id=loc.id, sms_consent=consent,
                dosing_clearance_date=dt.date(2029, 12, 1) if cleared else None)
    db.session.add(p)
    db.session.flush()
    return p


def travel(a: Location, b: Location, minutes=90):
    lo, hi = sorted((a.id, b.id))
    db.session.add(TravelTime(location_a_id=lo, location_b_id=hi, minutes=minutes))
    db.session.flush()


def commit():
    db.session.commit()


def local(day: str, hm: str) -> str:
    """An RFC 3339 instant for a local wall-clock time in Los Angeles, e.g. local("2030-01-07", "09:00")."""
    from zoneinfo import ZoneInfo

    t = dt.datetime.fromisoformat(f"{day}T{hm}").replace(tzinfo=ZoneInfo(LA))
    return t.isoformat()
