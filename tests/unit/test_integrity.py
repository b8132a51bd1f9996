"""Every rule code of the schedule's invariant, by example, in both implementations: the
fast integrity.violations and the independent audit.audit must name exactly the same
(rule, appointment) pairs. Times are local in Los Angeles on Monday 2030-01-07."""
from datetime import date, datetime, timedelta, timezone

import pytest

from scheduler.domain.audit import audit
from scheduler.domain.integrity import violations
from scheduler.domain.schedule import PatientFacts, ProviderFacts, RoomFacts, pairs, scope_of
from tests.support.schedules import MON, Clinic, at

IMPLEMENTATIONS = pytest.mark.parametrize("check", [violations, audit], ids=["integrity", "audit"])


def found(check, schedule, scope=None):
    return pairs(check(schedule, schedule.scope() if scope is None else scope))


class Base(Clinic):
    """Pasadena (CA) with two rooms of each kind, a prescriber, a nurse and a therapist
    08:00-17:00; Santa Barbara (CA, 90 min away) and Portland (OR) with no staff yet."""

    def __init__(self, **location):
        super().__init__()
        self.pas = self.location(**location)
        self.sb = self.location()
        self.pdx = self.location(state="OR")
        self.travel[(self.pas.id, self.sb.id)] = 90
        self.t1, self.t2 = self.room(self.pas, "treatment", 2)
        self.o1, self.o2 = self.room(self.pas, "therapy", 2)
        self.presc = self.provider(["prescriber"], at=self.pas)
        self.nurse = self.provider(["nurse"], at=self.pas)
        self.therapist = self.provider(["therapist"], at=self.pas)


@IMPLEMENTATIONS
def test_a_clean_day_breaks_nothing(check):
    c = Base()
    iv = c.book("ketamine_iv", c.pas, at("09:00"), c.nurse, room=c.t1)
    c.book("integration", c.pas, at("11:00"), c.therapist, room=c.o1, follows=iv,
           patient=next(p for p in c.patients if p.id == iv.patient_id))
    c.book("consultation", c.pas, at("09:00"), c.presc, room=c.o2)
    c.book("esketamine_nasal", c.pas, at("12:00"), c.presc, room=c.t2)
    assert found(check, c.schedule()) == set()


def _case(name):
    """Build a Base clinic with one situation; returns (schedule, expected pairs)."""
    c = Base(opening=("07:00", "16:00")) if name == "after_closing" else Base()
    if name == "clinic_closed":
        c = Base(opening=("09:00", "19:00"))
    x = c.patient()
    book = c.book
    if name == "provider_inactive":
        c.providers[0] = ProviderFacts(c.presc.id, c.presc.capabilities, c.presc.licensed_states, active=False)
        a = book("consultation", c.pas, at("09:00"), c.presc, x, c.o1)
        return c.schedule(), {(name, a.id)}
    if name == "provider_not_qualified":
        a = book("consultation", c.pas, at("09:00"), c.nurse, x, c.o1)
    elif name == "license":
        portlander = c.patient(state="OR")
        a = book("integration", c.pas, at("09:00"), c.therapist, portlander, telehealth=True)
    elif name == "provider_unavailable":
        a = book("consultation", c.pas, at("16:30"), c.presc, x, c.o1)
    elif name == "provider_time_off":
        c.off(c.presc, at("09:30"), at("12:00"))
        a = book("consultation", c.pas, at("09:00"), c.presc, x, c.o1)
    elif name == "external_busy":
        c.busy_block(c.therapist, at("09:45"), at("10:00"))
        a = book("integration", c.pas, at("09:00"), c.therapist, x, c.o1)
    elif name == "clinic_closed":
        a = book("consultation", c.pas, at("08:00"), c.presc, x, c.o1)
    elif name == "after_closing":
        a = book("ketamine_iv", c.pas, at("15:00"), c.nurse, x, c.t1)
    elif name == "rems_prescriber":
        c.rules = [r for r in c.rules if r.provider_id != c.presc.id]
        c.work(c.presc, c.pas, ("08:00", "12:00"))
        a = book("esketamine_nasal", c.pas, at("11:00"), c.nurse, x, c.t1)
    elif name == "telehealth_not_allowed":
        a = book("ketamine_iv", c.pas, at("09:00"), c.nurse, x, telehealth=True)
    elif name == "consultation_required":
        a = book("ketamine_iv", c.pas, at("09:00"), c.nurse, c.patient(cleared=False), c.t1)
    else:
        raise AssertionError(name)
    return c.schedule(), {(name, a.id)}


SINGLE = ["provider_inactive", "provider_not_qualified", "license", "provider_unavailable", "provider_time_off",
          "external_busy", "clinic_closed", "after_closing", "rems_prescriber", "telehealth_not_allowed",
          "consultation_required"]


@IMPLEMENTATIONS
@pytest.mark.parametrize("rule", SINGLE)
def test_each_rule_of_one_appointment(check, rule):
    schedule, expected = _case(rule)
    assert found(check, schedule) == expected


@IMPLEMENTATIONS
def test_travel_time_between_two_locations_names_both(check):
    c = Base()
    c.work(c.presc, c.sb)
    a = c.book("consultation", c.pas, at("09:00"), c.presc, room=c.o1)
    b = c.book("consultation", c.sb, at("11:15"), c.presc, room=c.room(c.sb, "therapy")[0])
    assert found(check, c.schedule()) == {("travel_time", a.id), ("travel_time", b.id)}
    assert found(check, c.schedule(), {(c.pas.id, MON)}) == {("travel_time", a.id)}
    c.move(b, at("11:30"))  # 90 minutes after 10:00
    assert found(check, c.schedule()) == set()
    c.travel[(c.pas.id, c.sb.id)] = 120
    assert found(check, c.schedule()) == {("travel_time", a.id), ("travel_time", b.id)}


@IMPLEMENTATIONS
def test_travel_across_states_is_the_whole_day(check):
    c = Base()
    c.providers[0] = c.presc = ProviderFacts(c.presc.id, frozenset({"prescriber"}), frozenset({"CA", "OR"}))
    c.work(c.presc, c.pdx)
    a = c.book("consultation", c.pas, at("08:00"), c.presc, room=c.o1)
    b = c.book("consultation", c.pdx, at("16:00"), c.presc, room=c.room(c.pdx, "therapy")[0])
    assert found(check, c.schedule()) == {("travel_time", a.id), ("travel_time", b.id)}
    c.move(b, at("08:00", date(2030, 1, 8)))
    assert found(check, c.schedule()) == set()


@IMPLEMENTATIONS
def test_pairs_of_one_provider_room_or_patient(check):
    c = Base()
    x, y = c.patient(), c.patient()
    a = c.book("consultation", c.pas, at("09:00"), c.presc, x, c.o1)
    b = c.book("consultation", c.pas, at("09:30"), c.presc, y, c.o2)  # the same prescriber
    assert found(check, c.schedule()) == {("provider_overlap", a.id), ("provider_overlap", b.id)}

    c = Base(turnover=15)
    first = c.book("ketamine_iv", c.pas, at("09:00"), c.nurse, room=c.t1)  # room until 10:40 + 15
    second = c.book("ketamine_iv", c.pas, at("10:50"), c.presc, room=c.t1)
    assert found(check, c.schedule()) == {("room_unavailable", first.id), ("room_unavailable", second.id)}
    c.move(second, at("10:55"))
    assert found(check, c.schedule()) == set()

    c = Base()
    x = c.patient()
    dose = c.book("ketamine_iv", c.pas, at("09:00"), c.nurse, x, c.t1)
    talk = c.book("integration", c.pas, at("10:00"), c.therapist, x, c.o1)
    again = c.book("ketamine_im", c.pas, at("14:00"), c.presc, x, c.t2)
    assert found(check, c.schedule()) == {("patient_overlap", dose.id), ("patient_overlap", talk.id),
                                          ("one_dosing_per_day", dose.id), ("one_dosing_per_day", again.id)}


@IMPLEMENTATIONS
@pytest.mark.parametrize("problem", ["none", "inactive", "wrong_kind", "elsewhere"])
def test_room_must_be_an_active_room_of_the_right_kind_here(check, problem):
    c = Base()
    room = {"none": None, "inactive": c.t1, "wrong_kind": c.o1, "elsewhere": c.room(c.sb)[0]}[problem]
    if problem == "inactive":
        c.rooms[0] = RoomFacts(c.t1.id, c.pas.id, "treatment", active=False)
    a = c.book("ketamine_iv", c.pas, at("09:00"), c.nurse, room=room)
    assert found(check, c.schedule()) == {("room_unavailable", a.id)}


@IMPLEMENTATIONS
def test_follow_order_is_checked_from_both_sides(check):
    c = Base()
    x = c.patient()
    dose = c.book("ketamine_iv", c.pas, at("09:00"), c.nurse, x, c.t1)  # ends 10:40
    talk = c.book("integration", c.pas, at("10:40"), c.therapist, x, c.o1, follows=dose)
    assert found(check, c.schedule()) == set()
    dose = c.move(dose, at("10:00"))  # the dosing session moved later, into its follower
    assert found(check, c.schedule()) == {("follow_order", dose.id), ("follow_order", talk.id),
                                          ("patient_overlap", dose.id), ("patient_overlap", talk.id)}
    # Follow-up on Tuesday, dosing moved to Wednesday: each side is named when its day is in scope.
    tue, wed = date(2030, 1, 8), date(2030, 1, 9)
    c.move(talk, at("09:00", tue))
    c.move(dose, at("09:00", wed))
    assert found(check, c.schedule(), {(c.pas.id, wed)}) == {("follow_order", dose.id)}
    assert found(check, c.schedule(), {(c.pas.id, tue)}) == {("follow_order", talk.id)}
    assert found(check, c.schedule()) == {("follow_order", dose.id), ("follow_order", talk.id)}


@IMPLEMENTATIONS
def test_monitoring_capacity_an_administering_clinician_does_not_watch(check):
    """EXAMPLES 2 as an invariant: B's IV at 09:45 leaves A unwatched, then both."""
    c = Base(ratio=1)
    c.rules = [r for r in c.rules if r.provider_id != c.nurse.id]
    a = c.book("ketamine_iv", c.pas, at("09:00"), c.presc, room=c.t1)
    b = c.book("ketamine_iv", c.pas, at("09:45"), c.presc, room=c.t2)
    assert found(check, c.schedule()) == {("monitoring_capacity", a.id), ("monitoring_capacity", b.id)}
    deficits = [v for v in violations(c.schedule(), {(c.pas.id, MON)}) if v.rule == "monitoring_capacity"]
    # One stretch without enough watchers (09:45-11:25), naming everyone monitored in it.
    assert [(v.appointment_ids, v.at) for v in deficits] == [((a.id, b.id), at("09:45"))]
    # With the nurse back on duty, one administers and the other watches.
    c.work(c.nurse, c.pas)
    assert found(check, c.schedule()) == set()


@IMPLEMENTATIONS
def test_monitoring_capacity_staff_hours_bound_the_window(check):
    """EXAMPLES 1: a 15:30 IV leaves the patient unwatched from 17:00."""
    c = Base()
    a = c.book("ketamine_iv", c.pas, at("15:30"), c.nurse, room=c.t1)
    assert found(check, c.schedule()) == {("monitoring_capacity", a.id)}
    v = [v for v in violations(c.schedule(), {(c.pas.id, MON)})]
    assert v[0].at == at("17:00")


@IMPLEMENTATIONS
def test_scope_limits_what_is_checked(check):
    c = Base()
    a = c.book("consultation", c.pas, at("16:30"), c.presc, room=c.o1)
    b = c.book("consultation", c.pas, at("16:30", date(2030, 1, 8)), c.presc, room=c.o1)
    s = c.schedule()
    assert found(check, s, {(c.pas.id, MON)}) == {("provider_unavailable", a.id)}
    assert found(check, s, scope_of([c.pas.id], MON, MON + timedelta(days=1))) == {
        ("provider_unavailable", a.id), ("provider_unavailable", b.id)}
    assert found(check, s, {(c.sb.id, MON)}) == set()
    assert check(s, set()) == []


@IMPLEMENTATIONS
def test_missing_facts_count_against_the_appointment(check):
    c = Base()
    a = c.book("ketamine_iv", c.pas, at("09:00"), c.nurse, room=c.t1)
    c.patients = [p for p in c.patients if p.id != a.patient_id]  # unknown patient: not cleared
    assert found(check, c.schedule()) == {("consultation_required", a.id)}
    c.patients.append(PatientFacts(a.patient_id, "CA", cleared_for_dosing=True))
    assert found(check, c.schedule()) == set()


# ---------------------------------------------------------------- wall-clock rules across DST

SPRING, FALL = date(2027, 3, 14), date(2027, 11, 7)


def _night(day, hours):
    c = Clinic()
    loc = c.location(opening=("00:00", "24:00"))
    office = c.room(loc, "therapy")[0]
    p = c.provider(["prescriber"], at=loc, hours=hours)
    return c, loc, office, p


@IMPLEMENTATIONS
@pytest.mark.parametrize("day, hours, start_utc, broken", [
    # 02:30 does not exist on the spring day: the rule starts when the clock reads 03:00.
    (SPRING, ("02:30", "05:00"), (10, 0), False),  # 03:00 PDT
    (SPRING, ("02:30", "05:00"), (9, 30), True),  # 01:30 PST
    # On the fall day 01:00-01:45 is the first 01:00-01:45 only; 01:00-03:00 is three hours.
    (FALL, ("00:30", "01:30"), (7, 30), False),  # 00:30 PDT, until 01:30 PDT
    (FALL, ("01:00", "01:45"), (9, 0), True),  # 01:00 PST, the second one
    (FALL, ("01:00", "03:00"), (9, 30), False),  # 01:30 PST, until 02:30 PST
])
def test_weekly_rules_across_dst(check, day, hours, start_utc, broken):
    c, loc, office, p = _night(day, hours)
    a = c.book("consultation", loc, datetime(day.year, day.month, day.day, *start_utc, tzinfo=timezone.utc), p,
               room=office)
    assert found(check, c.schedule()) == ({("provider_unavailable", a.id)} if broken else set())
