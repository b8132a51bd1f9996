"""EXAMPLES.md 13-15 ("the schedule as a whole") on domain values: check_start and search
agree with the invariant, and both integrity.violations and audit.audit see the damage.
Times are local (America/Los_Angeles) on Monday 2030-01-07."""
from datetime import date

import pytest

from scheduler.domain.audit import audit
from scheduler.domain.availability import snapshot
from scheduler.domain.integrity import violations
from scheduler.domain.intervals import Interval
from scheduler.domain.schedule import AppointmentFacts, pairs
from scheduler.domain.scheduling import search
from tests.support.schedules import MON, NOW, Clinic, ask, at, hm

BOTH = pytest.mark.parametrize("check", [violations, audit], ids=["integrity", "audit"])


def added(schedule, out, loc, code, patient, provider=None, room=None, appointment_id=None, telehealth=False):
    """The schedule with the session check_start answered booked (first provider and room)."""
    a = AppointmentFacts.from_phases(
        appointment_id or schedule.next_appointment_id(), out.phases, patient_id=patient.id,
        provider_id=provider or out.providers[0], location=loc, room_id=room or (out.rooms[0] if out.rooms else None),
        type_code=code, telehealth=telehealth)
    return schedule.with_appointment(a), a


# ---------------------------------------------------------------- 13. a consultation cannot take the last watcher


def _portland():
    c = Clinic()
    pdx = c.location(state="OR", ratio=3)
    chairs = c.room(pdx, "treatment", 4)
    c.room(pdx, "therapy", 2)
    p = c.provider(["prescriber"], states=("OR",), at=pdx)
    n = c.provider(["nurse"], states=("OR",), at=pdx)
    a = c.book("ketamine_im", pdx, at("09:30"), p, room=chairs[0])  # A monitored 09:45-10:45
    b = c.book("ketamine_im", pdx, at("09:45"), p, room=chairs[1])  # B monitored 10:00-11:00
    cc = c.book("ketamine_iv", pdx, at("10:00"), n, room=chairs[2])  # C monitored 10:40-11:40
    return c, pdx, p, a, b, cc


@BOTH
def test_example_13_the_schedule_is_clean_and_a_consultation_at_1030_would_leave_two_unwatched(check):
    c, pdx, p, a, b, _ = _portland()
    x = c.patient("OR")
    s = c.schedule()
    assert check(s, s.scope()) == []
    out = snapshot(s, pdx.id, "consultation", Interval(at("10:30"), at("10:31")), x.id)
    # From 10:00 to 10:40 only P watches (3 x 1 - 2); from 10:45 P and N watch B and C (3 x 2 - 2).
    assert out.site.slack.value_at(at("10:00")) == 1 and out.site.slack.value_at(at("10:45")) == 4

    c.book("consultation", pdx, at("10:30"), p, x, c.rooms[-1])  # booked anyway: both are left unwatched
    damaged = c.schedule()
    assert pairs(check(damaged, damaged.scope())) == {("monitoring_capacity", a.id), ("monitoring_capacity", b.id)}


def test_example_13_check_start_refuses_1030_and_search_offers_1045():
    c, pdx, p, a, b, _ = _portland()
    x = c.patient("OR")
    s = c.schedule()
    refused = ask(s, pdx, "consultation", at("10:30"), x)
    assert refused.code == "monitoring_capacity" and not refused.ok
    ok = ask(s, pdx, "consultation", at("10:45"), x)
    assert ok.ok and ok.providers == (p.id,)
    after, _ = added(s, ok, pdx, "consultation", x)
    assert audit(after, after.scope()) == []

    snap = snapshot(s, pdx.id, "consultation", Interval(at("09:00"), at("12:00")), x.id)
    offered = [hm(slot.start) for slot in search(snap.site, snap.spec, Interval(at("09:00"), at("12:00")),
                                                 snap.staff, snap.rooms, NOW, snap.patient)]
    assert "10:30" not in offered and offered[0] == "10:45"
    # Every start between 09:50 and 10:40 would take P while A or B needs watching.
    assert not {"10:00", "10:15", "10:30"} & set(offered)


def test_example_13_moving_a_consultation_into_the_window_is_refused():
    c, pdx, p, *_ = _portland()
    x = c.patient("OR")
    later = c.book("consultation", pdx, at("14:00"), p, x, c.rooms[-1])
    s = c.schedule()
    assert ask(s, pdx, "consultation", at("10:30"), x, exclude_id=later.id).code == "monitoring_capacity"
    assert ask(s, pdx, "consultation", at("10:45"), x, exclude_id=later.id).ok


def test_example_13_a_therapist_is_not_a_watcher_and_may_take_any_time():
    c, pdx, *_ = _portland()
    t = c.provider(["therapist"], states=("OR",), at=pdx)
    x = c.patient("OR")
    out = ask(c.schedule(), pdx, "integration", at("10:30"), x)
    assert out.ok and out.providers == (t.id,)


# ---------------------------------------------------------------- 14. travel takes a watcher away


def _two_sites(pasadena_from="12:30"):
    """Nurse N: Santa Barbara 08:00-12:00, Pasadena from `pasadena_from`; 90 minutes apart.
    N gives D an IV in Santa Barbara at 09:40 and is its only clinician (D watched until 11:20)."""
    c = Clinic()
    sb, pas = c.location(name="Santa Barbara"), c.location(name="Pasadena")
    c.travel[(sb.id, pas.id)] = 90
    sb_chair = c.room(sb, "treatment")[0]
    pas_chairs = c.room(pas, "treatment", 2)
    n = c.provider(["nurse"])
    c.work(n, sb, ("08:00", "12:00"))
    c.work(n, pas, (pasadena_from, "17:00"))
    d = c.book("ketamine_iv", sb, at("09:40"), n, room=sb_chair)
    return c, sb, pas, n, d, pas_chairs


def test_example_14_a_session_elsewhere_may_not_take_the_only_watcher():
    c, sb, pas, n, d, _ = _two_sites()
    x = c.patient()
    s = c.schedule()
    assert audit(s, s.scope()) == []
    assert ask(s, pas, "ketamine_im", at("13:00"), x).providers == (n.id,)  # she leaves at 11:30
    early = ask(s, pas, "ketamine_im", at("12:45"), x)  # she would leave at 11:15, D watched until 11:20
    assert early.code == "monitoring_capacity" and "another location" in early.message
    snap = snapshot(s, pas.id, "ketamine_im", Interval(at("12:30"), at("13:30")), x.id)
    staff = {st.id: st for st in snap.staff}
    # She is the only watcher of D from 10:20 to 11:20: no session here within 90 minutes of that.
    assert staff[n.id].needed_elsewhere == {"monitoring_capacity": [Interval(at("08:50"), at("12:50"))]}
    offered = search(snap.site, snap.spec, Interval(at("12:30"), at("13:30")), snap.staff, snap.rooms, NOW,
                     snap.patient)
    assert [hm(slot.start) for slot in offered] == ["13:00", "13:15"]


def test_example_14_as_written_the_early_start_is_outside_her_pasadena_hours():
    """With her Pasadena hours from 13:00, nobody is on duty there at 12:45 anyway."""
    c, sb, pas, n, d, _ = _two_sites(pasadena_from="13:00")
    x = c.patient()
    s = c.schedule()
    snap = snapshot(s, pas.id, "ketamine_im", Interval(at("12:45"), at("12:46")), x.id)
    assert snap.site.slack.value_at(at("12:45")) == 0
    assert ask(s, pas, "ketamine_im", at("12:45"), x).code == "monitoring_capacity"
    assert ask(s, pas, "ketamine_im", at("13:00"), x).ok


def test_example_14_a_move_to_1245_is_refused():
    c, sb, pas, n, d, chairs = _two_sites()
    x = c.patient()
    booked = c.book("ketamine_im", pas, at("13:00"), n, x, chairs[0])
    s = c.schedule()
    assert audit(s, s.scope()) == []
    assert ask(s, pas, "ketamine_im", at("12:45"), x, exclude_id=booked.id).code == "monitoring_capacity"


@BOTH
def test_example_14_the_damage_is_seen_at_santa_barbara(check):
    c, sb, pas, n, d, chairs = _two_sites()
    c.book("ketamine_im", pas, at("12:45"), n, room=chairs[0])
    s = c.schedule()
    assert pairs(check(s, {(sb.id, MON)})) == {("monitoring_capacity", d.id)}
    assert pairs(check(s, {(pas.id, MON)})) == set()


def test_example_14_rems_the_only_prescriber_cannot_leave_during_an_esketamine_session():
    c = Clinic()
    sb, pas = c.location(), c.location()
    sb_chair = c.room(sb, "treatment")[0]
    c.room(pas, "therapy")
    p = c.provider(["prescriber"])
    c.work(p, sb, ("08:00", "12:00"))
    c.work(p, pas, ("12:00", "17:00"))
    nurse = c.provider(["nurse"], at=sb)
    e = c.book("esketamine_nasal", sb, at("09:00"), nurse, room=sb_chair)  # chair until 11:15
    x = c.patient()
    s = c.schedule()
    assert audit(s, s.scope()) == []
    assert ask(s, pas, "consultation", at("12:30"), x).code == "rems_prescriber"  # leaves at 11:00
    assert ask(s, pas, "consultation", at("12:45"), x).ok
    c.book("consultation", pas, at("12:30"), p, x, c.rooms[-1])
    damaged = c.schedule()
    assert pairs(violations(damaged, {(sb.id, MON)})) == pairs(audit(damaged, {(sb.id, MON)})) == {
        ("rems_prescriber", e.id)}


# ---------------------------------------------------------------- 15. a sick day forces the damage into view


@BOTH
def test_example_15_time_off_over_booked_sessions(check):
    tomorrow = date(2030, 1, 8)
    c = Clinic()
    loc = c.location()
    chair, office = c.room(loc, "treatment")[0], c.room(loc, "therapy")[0]
    p = c.provider(["prescriber"], at=loc)
    other = c.provider(["prescriber"], at=loc, hours=("12:00", "17:00"))
    c.provider(["nurse"], at=loc)
    e = c.book("esketamine_nasal", loc, at("10:00", tomorrow), p, room=chair)
    talk = c.book("consultation", loc, at("14:00", tomorrow), p, room=office)
    s = c.schedule()
    scope = {(loc.id, tomorrow)}
    assert check(s, scope) == []

    sick = c.off(p, at("00:00", tomorrow), at("00:00", date(2030, 1, 9)))
    s = s.with_time_off(sick)
    assert pairs(check(s, scope)) == {("rems_prescriber", e.id), ("provider_time_off", e.id),
                                      ("provider_time_off", talk.id)}
    # Moved to the other prescriber, in their hours: its flags are gone, the consultation's stay.
    moved = c.move(e, at("12:00", tomorrow), provider_id=other.id)
    s = s.replace_appointment(moved)
    assert pairs(check(s, scope)) == {("provider_time_off", talk.id)}
    assert check(s.without_time_off(sick.id), scope) == []


# ---------------------------------------------------------------- the follow-up rule, from both sides


def test_follow_order_refused_from_both_sides():
    c = Clinic()
    loc = c.location()
    chair, office = c.room(loc, "treatment")[0], c.room(loc, "therapy")[0]
    c.provider(["prescriber"], at=loc)
    n = c.provider(["nurse"], at=loc)
    t = c.provider(["therapist"], at=loc)
    x = c.patient()
    dose = c.book("ketamine_iv", loc, at("09:00"), n, x, chair)  # ends 10:40
    s = c.schedule()
    assert ask(s, loc, "integration", at("08:00"), x, follows_id=dose.id).code == "follow_order"
    assert ask(s, loc, "integration", at("08:00"), x).ok  # the same time, following nothing
    assert ask(s, loc, "integration", at("10:45"), x, follows_id=dose.id).ok
    c.book("integration", loc, at("11:00"), t, x, office, follows=dose)
    s = c.schedule()
    assert ask(s, loc, "ketamine_iv", at("13:00"), x, exclude_id=dose.id).code == "follow_order"
    assert ask(s, loc, "ketamine_iv", at("09:15"), x, exclude_id=dose.id).ok  # ends 10:55
