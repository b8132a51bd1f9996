"""An appointment's life, without a database: status transitions, the follow-up rule,
telehealth and rooms (domain/appointments.py)."""
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.appointments import (
    TRANSITIONS, Followed, check_follow, check_follow_on_move, check_movable, check_room_choice,
    follow_problem, frees_time, next_status, room_after_move,
)
from scheduler.domain.errors import Conflict, Invalid
from scheduler.domain.vocabulary import APPOINTMENT_STATUSES

LA = ZoneInfo("America/Los_Angeles")
START = datetime(2027, 3, 15, 16, 0, tzinfo=timezone.utc)  # Mon 09:00 in Los Angeles
DAY = date(2027, 3, 15)

# The FHIR workflow as PRODUCT.md tells it, written out edge by edge.
ALLOWED = {("booked", "check_in"): "checked-in", ("checked-in", "complete"): "fulfilled",
           ("booked", "no_show"): "noshow", ("booked", "cancel"): "cancelled",
           ("checked-in", "cancel"): "cancelled"}


@pytest.mark.parametrize("status", APPOINTMENT_STATUSES)
@pytest.mark.parametrize("action", sorted(TRANSITIONS))
def test_each_action_leads_only_where_the_workflow_allows(status, action):
    if (status, action) in ALLOWED:
        assert next_status(action, status, now=START, start=START, day=DAY, tz=LA) == ALLOWED[(status, action)]
    else:
        with pytest.raises(Conflict) as refused:
            next_status(action, status, now=START, start=START, day=DAY, tz=LA)
        assert refused.value.code == "invalid_transition" and status in refused.value.message


@given(st.integers(-48 * 60, 48 * 60))
def test_check_in_happens_on_the_local_day_of_the_appointment(minutes):
    now = START + timedelta(minutes=minutes)
    same_day = now.astimezone(LA).date() == DAY
    if same_day:
        assert next_status("check_in", "booked", now=now, start=START, day=DAY, tz=LA) == "checked-in"
    else:
        with pytest.raises(Conflict, match="on the day"):
            next_status("check_in", "booked", now=now, start=START, day=DAY, tz=LA)


@pytest.mark.parametrize("action, status", [("complete", "checked-in"), ("no_show", "booked")])
def test_complete_and_no_show_wait_for_the_start(action, status):
    with pytest.raises(Conflict, match="not started"):
        next_status(action, status, now=START - timedelta(microseconds=1), start=START, day=DAY, tz=LA)
    assert next_status(action, status, now=START, start=START, day=DAY, tz=LA) == ALLOWED[(status, action)]


def test_cancel_needs_no_particular_time():
    for now in (START - timedelta(days=30), START + timedelta(hours=1)):
        assert next_status("cancel", "booked", now=now, start=START, day=DAY, tz=LA) == "cancelled"


def test_only_called_off_visits_free_their_time():
    assert [s for s in APPOINTMENT_STATUSES if frees_time(s)] == ["cancelled", "noshow"]


@pytest.mark.parametrize("status", APPOINTMENT_STATUSES)
def test_only_a_booked_appointment_moves(status):
    if status == "booked":
        check_movable(status)
    else:
        with pytest.raises(Conflict, match="cannot be moved"):
            check_movable(status)


# ---------------------------------------------------------------- follow-ups
@given(category=st.sampled_from(["dosing", "integration", "consultation"]), same_patient=st.booleans(),
       dosing=st.booleans(), status=st.sampled_from(APPOINTMENT_STATUSES), gap=st.integers(-120, 120))
def test_a_follow_up_is_an_integration_after_the_same_patients_dosing_still_on(
        category, same_patient, dosing, status, gap):
    first = Followed(patient_id=1, is_dosing=dosing, status=status, end=START)
    start = START + timedelta(minutes=gap)
    ok = (category == "integration" and same_patient and dosing
          and status not in ("cancelled", "noshow") and gap >= 0)
    assert (follow_problem(category, 1 if same_patient else 2, start, first) is None) == ok
    if ok:
        check_follow(category, 1, start, first)
    else:
        with pytest.raises(Invalid) as refused:
            check_follow(category, 1 if same_patient else 2, start, first)
        assert refused.value.code == "invalid_follow" and "follows_appointment_id" in refused.value.errors


def test_a_move_keeps_a_follow_up_after_its_session():
    first = Followed(patient_id=1, is_dosing=True, status="fulfilled", end=START)
    check_follow_on_move(START, first)
    with pytest.raises(Conflict) as refused:
        check_follow_on_move(START - timedelta(minutes=1), first)
    assert refused.value.code == "invalid_follow"


# ---------------------------------------------------------------- rooms
def test_telehealth_takes_no_room():
    check_room_choice(True, None)
    check_room_choice(False, 3)
    check_room_choice(False, None)
    with pytest.raises(Invalid) as refused:
        check_room_choice(True, 3)
    assert "room_id" in refused.value.errors


@given(telehealth=st.booleans(), current=st.one_of(st.none(), st.integers(1, 5)),
       wanted=st.one_of(st.none(), st.integers(1, 5)),
       free=st.lists(st.integers(1, 5), min_size=1, max_size=5, unique=True))
def test_a_move_keeps_the_patients_room_while_it_is_free(telehealth, current, wanted, free):
    room = room_after_move(telehealth, current, wanted, tuple(free))
    if telehealth:
        assert room is None
    elif wanted is None and current in free:
        assert room == current
    else:
        assert room == free[0]  # the rules' first choice (least used that day)
