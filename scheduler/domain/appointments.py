"""An appointment's life: the status transitions (HL7 FHIR Appointment), the follow-up
rule, and what a telehealth session does not take. Pure: the services pass the facts in."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from .errors import Conflict, Invalid
from .localtime import local_date_of
from .vocabulary import CALLED_OFF_STATUSES

# action -> (the statuses it may start from, the status it leads to)
TRANSITIONS = {
    "check_in": (frozenset({"booked"}), "checked-in"),
    "complete": (frozenset({"checked-in"}), "fulfilled"),
    "no_show": (frozenset({"booked"}), "noshow"),
    "cancel": (frozenset({"booked", "checked-in"}), "cancelled"),
}
# The instant each action stamps on the appointment.
STAMPS = {"check_in": "checked_in_at", "complete": "completed_at", "cancel": "cancelled_at"}
MOVABLE = frozenset({"booked"})


def next_status(action: str, status: str, *, now: datetime, start: datetime, day: date,
                tz: tzinfo) -> str:
    """The status ``action`` leads to from ``status`` for a visit starting at ``start`` on
    local date ``day``; Conflict(invalid_transition) when the action is not allowed now."""
    allowed_from, target = TRANSITIONS[action]
    if status not in allowed_from:
        raise Conflict(f"Cannot {action.replace('_', '-')} an appointment that is {status} "
                       f"(allowed from: {', '.join(sorted(allowed_from))}).", code="invalid_transition")
    if action == "check_in" and local_date_of(now, tz) != day:
        raise Conflict("Check-in happens on the day of the appointment.", code="invalid_transition")
    if action in ("no_show", "complete") and now < start:
        raise Conflict("The appointment has not started yet.", code="invalid_transition")
    return target


def frees_time(status: str) -> bool:
    """A visit called off no longer holds its provider, room and patient."""
    return status in CALLED_OFF_STATUSES


def check_movable(status: str) -> None:
    if status not in MOVABLE:
        raise Conflict(f"A {status} appointment cannot be moved.", code="invalid_transition")


def check_room_choice(telehealth: bool, room_id: int | None) -> None:
    """Telehealth happens where the patient is: it takes no room."""
    if telehealth and room_id is not None:
        raise Invalid("A telehealth session uses no room.", errors={"room_id": ["Leave it out for telehealth."]})


def room_after_move(telehealth: bool, current: int | None, wanted: int | None,
                    free: tuple[int, ...]) -> int | None:
    """Keep the room the patient had when it is still free; rooms of a kind are alike."""
    if telehealth:
        return None
    if wanted is None and current in free:
        return current
    return free[0]


@dataclass(frozen=True)
class Followed:
    """The session a follow-up (an integration session) names as the one it follows."""

    patient_id: int
    is_dosing: bool
    status: str
    end: datetime


def follows_in_order(start: datetime, first: Followed) -> bool:
    return start >= first.end


def follow_problem(category: str, patient_id: int, start: datetime, first: Followed) -> str | None:
    """Why a session of ``category`` for ``patient_id`` at ``start`` cannot follow ``first``."""
    if category != "integration":
        return "Only an integration session follows a dosing session."
    if first.patient_id != patient_id:
        return "That appointment is another patient's."
    if not first.is_dosing or first.status in CALLED_OFF_STATUSES:
        return "That appointment is not a dosing session that is still on."
    if not follows_in_order(start, first):
        return "An integration session starts after the dosing session it follows has ended."
    return None


def check_follow(category: str, patient_id: int, start: datetime, first: Followed) -> None:
    """At booking: the named session must be this patient's dosing session, still on, over."""
    problem = follow_problem(category, patient_id, start, first)
    if problem:
        raise Invalid(problem, code="invalid_follow", errors={"follows_appointment_id": [problem]})


def check_follow_on_move(start: datetime, first: Followed) -> None:
    """A move keeps a follow-up after the session it follows."""
    if not follows_in_order(start, first):
        raise Conflict("An integration session starts after the dosing session it follows.",
                       code="invalid_follow")
