"""The rules an admin's edit of a session type must keep (domain/session_types.py)."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.errors import Invalid
from scheduler.domain.session_types import REMS_MINIMUM_MONITORING_MINUTES, check_edit

IV = dict(category="dosing", rems=False, monitoring_minutes=60, room_kind="treatment")
NASAL = dict(IV, rems=True, monitoring_minutes=120)
TALK = dict(category="integration", rems=False, monitoring_minutes=0, room_kind="therapy")


@given(rems=st.booleans(), minutes=st.integers(0, 720), flag_now=st.booleans())
def test_a_rems_type_never_monitors_under_two_hours(rems, minutes, flag_now):
    current = dict(IV, rems=not rems if flag_now else rems)
    values = {"monitoring_minutes": minutes} | ({"rems": rems} if flag_now else {})
    if rems and minutes < REMS_MINIMUM_MONITORING_MINUTES:
        with pytest.raises(Invalid) as refused:
            check_edit(**current, values=values)
        assert refused.value.code == "rems_minimum"
    else:
        check_edit(**current, values=values)


def test_lowering_a_rems_types_monitoring_is_refused_and_the_boundary_is_allowed():
    with pytest.raises(Invalid):
        check_edit(**NASAL, values={"monitoring_minutes": 119})
    check_edit(**NASAL, values={"monitoring_minutes": 120})
    check_edit(**NASAL, values={"rems": False, "monitoring_minutes": 30})


def test_dosing_stays_in_a_treatment_room_and_off_telehealth():
    with pytest.raises(Invalid) as room:
        check_edit(**IV, values={"room_kind": "therapy"})
    assert "room_kind" in room.value.errors
    with pytest.raises(Invalid) as remote:
        check_edit(**IV, values={"telehealth_allowed": True})
    assert "telehealth_allowed" in remote.value.errors
    check_edit(**IV, values={"telehealth_allowed": False, "name": "IV"})
    check_edit(**TALK, values={"room_kind": "treatment", "telehealth_allowed": True})


def test_instruction_rules_are_checked_only_when_edited():
    check_edit(**IV, values={"instructions": {"no_solid_food_hours": 6}})
    with pytest.raises(Invalid) as refused:
        check_edit(**IV, values={"instructions": {"no_solid_food_hours": 99, "bogus": 1}})
    assert len(refused.value.errors["instructions"]) == 2
