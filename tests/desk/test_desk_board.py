"""The day board: rows, phases, markers, and the monitoring capacity line, checked against
an independent count of watchers and watched patients."""
import datetime as dt

from hypothesis import HealthCheck, given, settings, strategies as st

from scheduler.domain.errors import DomainError
from scheduler.extensions import db
from scheduler.models import Appointment
from scheduler.services.scheduling.board import day_board
from tests.conftest import NOW
from tests.support.desk_clinic import DAY, at, book, fail_a_text, seed_clinic


def seeded_day():
    c = seed_clinic()
    iv = book(c["jordan"], "ketamine_iv", at("10:00"), NOW)  # no ride
    im = book(c["riley"], "ketamine_im", at("13:00"), NOW, ride_arranged=True)
    fail_a_text(im)
    talk = book(c["casey"], "integration", at("14:00"), NOW, telehealth=True)
    gone = book(c["casey"], "consultation", at("11:00"), NOW)
    from scheduler.services.scheduling import booking, flags

    booking.transition(gone.id, "cancel", "test", NOW, reason="moved away")
    flags.reconcile([iv.id], ["external_busy"],
                    {iv.id: {"external_busy": "Busy in the provider's own calendar 10:30-11:00."}}, NOW)
    db.session.commit()
    return c, dict(iv=iv, im=im, talk=talk, gone=gone)


def test_rooms_show_every_phase_and_providers_their_own_time(app):
    c, a = seeded_day()
    board = day_board(c["location"].id, DAY)
    assert (board.location_name, board.timezone, board.date) == ("Pasadena", "America/Los_Angeles", DAY)
    assert (board.window.start, board.window.end) == (at("07:00"), at("19:00"))
    rows = {(r.kind, r.name): r for r in board.rows}
    assert [name for kind, name in rows if kind == "provider"] == [
        "Ana Silva, LMFT", "Dr. Maya Chen, MD", "Hannah Park, RN"]
    assert [name for kind, name in rows if kind == "room"] == ["Chair 1", "Chair 2", "Chair 3", "Office A"]
    chair = next(r for r in board.rows if r.kind == "room" and any(b.appointment.id == a["iv"].id for b in r.blocks))
    (block,) = [b for b in chair.blocks if b.appointment.id == a["iv"].id]
    assert [(p.kind, p.start, p.end) for p in block.phases] == [
        ("administering", at("10:00"), at("10:40")), ("monitoring", at("10:40"), at("11:40")),
        ("turnover", at("11:40"), at("11:55"))]
    provider = rows[("provider", a["iv"].provider.name)]
    (mine,) = [b for b in provider.blocks if b.appointment.id == a["iv"].id]
    assert [(p.kind, p.start, p.end) for p in mine.phases] == [("administering", at("10:00"), at("10:40"))]
    therapist = rows[("provider", "Ana Silva, LMFT")]
    assert [p.kind for b in therapist.blocks for p in b.phases] == ["session"]  # telehealth: no room row
    assert not any(b.appointment.id == a["talk"].id for r in board.rows if r.kind == "room" for b in r.blocks)
    assert therapist.available[0].start == at("08:00") and therapist.available[-1].end == at("17:00")


def test_cancelled_visits_are_listed_but_not_drawn(app):
    c, a = seeded_day()
    board = day_board(c["location"].id, DAY)
    assert [x.id for x in board.appointments] == [a["iv"].id, a["gone"].id, a["im"].id, a["talk"].id]
    drawn = {b.appointment.id for r in board.rows for b in r.blocks}
    assert a["gone"].id not in drawn and {a["iv"].id, a["im"].id, a["talk"].id} <= drawn


def test_markers_say_what_needs_attention(app):
    c, a = seeded_day()
    board = day_board(c["location"].id, DAY)
    codes = {x.id: [m.code for m in x.markers] for x in board.appointments}
    assert codes[a["iv"].id] == ["external_busy", "unconfirmed", "no_ride"]
    assert codes[a["im"].id] == ["unconfirmed", "texts_failed"]
    assert codes[a["talk"].id] == ["unconfirmed"]
    assert codes[a["gone"].id] == []
    iv = next(x for x in board.appointments if x.id == a["iv"].id)
    assert iv.markers[0].message == "Busy in the provider's own calendar 10:30-11:00."
    # Every flag shows as a marker; a flag and the desk's own check name no_ride once.
    from scheduler.services.scheduling import flags

    dosing = [a["iv"].id, a["im"].id]
    flags.reconcile(dosing, ["monitoring_capacity", "no_ride"], {
        a["iv"].id: {"monitoring_capacity": "Nobody would watch this patient.", "no_ride": "No ride."}}, NOW)
    flags.reconcile([a["iv"].id], ["external_busy"], {}, NOW)
    db.session.commit()
    flagged = day_board(c["location"].id, DAY)
    codes = {x.id: [m.code for m in x.markers] for x in flagged.appointments}
    assert codes[a["iv"].id] == ["monitoring_capacity", "no_ride", "unconfirmed"]


def slack_oracle(t: dt.datetime, appointments, ratio: int = 3) -> int:
    """ratio x (nurse and prescriber on site and not administering) - patients in monitoring."""
    on_site = {"nurse": (at("07:00"), at("19:00")), "prescriber": (at("08:00"), at("17:00"))}
    watchers = 0
    for role, (start, end) in on_site.items():
        busy = any(x.provider.capabilities == [role] and x.start_at <= t < x.provider_busy_end
                   for x in appointments)
        watchers += int(start <= t < end and not busy)
    monitored = sum(1 for x in appointments if x.monitoring_start is not None
                    and x.monitoring_start <= t < x.monitoring_end)
    return ratio * watchers - monitored


def test_the_capacity_line_counts_watchers_and_watched_patients(app):
    c, a = seeded_day()
    board = day_board(c["location"].id, DAY)
    live = [x for x in db.session.query(Appointment).all() if x.status != "cancelled"]
    assert board.capacity[0].start == board.window.start and board.capacity[-1].end == board.window.end
    for step in board.capacity:
        for t in (step.start, step.end - dt.timedelta(minutes=1)):
            assert step.slack == slack_oracle(t, live), t
    values = [s.slack for s in board.capacity]
    assert values[0] == 3 and max(values) == 6  # the nurse alone at 07:00, both from 08:00


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(starts=st.lists(st.sampled_from(["10:00", "10:30", "11:15", "12:00", "13:30", "15:00", "16:45"]),
                       min_size=1, max_size=3, unique=True),
       kinds=st.lists(st.sampled_from(["ketamine_iv", "ketamine_im"]), min_size=3, max_size=3))
def test_the_capacity_line_matches_the_oracle_for_any_bookings(app, starts, kinds):
    from tests.conftest import empty_database

    db.session.rollback()
    empty_database()
    c = seed_clinic()
    for patient, start, kind in zip((c["jordan"], c["riley"], c["casey"]), starts, kinds):
        patient.dosing_clearance_date = dt.date(2029, 1, 1)
        db.session.commit()
        try:
            book(patient, kind, at(start), NOW)
        except DomainError:  # the rules may refuse one (capacity): the line must still be right
            db.session.rollback()
    board = day_board(c["location"].id, DAY)
    live = [x for x in db.session.query(Appointment).all() if x.status != "cancelled"]
    minute = board.window.start
    steps = iter(board.capacity)
    step = next(steps)
    while minute < board.window.end:
        while minute >= step.end:
            step = next(steps)
        assert step.slack == slack_oracle(minute, live), minute
        minute += dt.timedelta(minutes=5)


def test_the_axis_grows_to_hold_a_visit_outside_opening_hours(app):
    c = seed_clinic()
    c["location"].opening_hours = {d: [["09:00", "12:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    db.session.commit()
    board = day_board(c["location"].id, DAY)
    assert (board.window.start, board.window.end) == (at("09:00"), at("12:00"))
    book(c["casey"], "consultation", at("13:15"), NOW, telehealth=True)  # telehealth: no opening hours
    board = day_board(c["location"].id, DAY)
    assert (board.window.start, board.window.end) == (at("09:00"), at("15:00"))
    assert board.offset(at("09:00")) == 0 and board.offset(at("15:00")) == 100
    assert [h for h in board.hours()] == [at(f"{h:02d}:00") for h in range(9, 15)]


def test_a_closed_day_still_has_an_axis_and_says_so(app):
    c = seed_clinic()
    c["location"].opening_hours = {}
    db.session.commit()
    board = day_board(c["location"].id, DAY)
    assert board.opening == () and (board.window.start, board.window.end) == (at("08:00"), at("17:00"))
    assert all(not r.available for r in board.rows if r.kind == "room")
