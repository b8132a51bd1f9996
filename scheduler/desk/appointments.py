"""One visit: its phases and texts; move it, cancel it, check the patient in."""
from flask import flash, redirect, render_template, request, url_for

from ..domain.errors import DomainError
from . import actions, bp
from .auth import caller
from .forms import Fields
from .formatting import when
from .views import readable, status_of


def _page(appointment_id: int, errors: dict | None = None, form: dict | None = None, status: int = 200):
    return render_template("desk/appointment.html", visit=actions.visit(appointment_id),
                           errors=errors or {}, form=form or {}), status


@bp.get("/appointments/<int:appointment_id>")
def appointment(appointment_id):
    return _page(appointment_id)


def _done(appointment_id: int, message: str):
    flash(message, "notice")
    return redirect(url_for("desk.appointment", appointment_id=appointment_id), 303)


@bp.post("/appointments/<int:appointment_id>/move")
def move(appointment_id):
    f = Fields(request.form)
    day, wall = f.day("date", required=True), f.wall("time")
    provider_id, room_id = f.integer("provider_id"), f.integer("room_id")
    if f.errors:
        return _page(appointment_id, {"move": "Check the date and time.", **f.errors}, request.form, 422)
    try:
        moved = actions.move(caller().name, appointment_id, day, wall, provider_id, room_id)
    except DomainError as exc:
        return _page(appointment_id, {"move": readable(exc)}, request.form, status_of(exc))
    return _done(appointment_id, f"Moved to {when(moved.start_at, moved.location.timezone)} with "
                                 f"{moved.provider.name}" + (f" in {moved.room.name}." if moved.room else "."))


@bp.post("/appointments/<int:appointment_id>/cancel")
def cancel(appointment_id):
    f = Fields(request.form)
    reason = f.text("reason", required=True, max_length=500)
    if f.errors:
        return _page(appointment_id, {"cancel": "Say why it is cancelled.", **f.errors}, request.form, 422)
    try:
        actions.cancel(caller().name, appointment_id, reason)
    except DomainError as exc:
        return _page(appointment_id, {"cancel": readable(exc)}, request.form, status_of(exc))
    return _done(appointment_id, "Cancelled.")


@bp.post("/appointments/<int:appointment_id>/check-in")
def check_in(appointment_id):
    try:
        actions.check_in(caller().name, appointment_id)
    except DomainError as exc:
        return _page(appointment_id, {"check_in": readable(exc)}, request.form, status_of(exc))
    return _done(appointment_id, "Checked in.")


@bp.post("/appointments/<int:appointment_id>/ride")
def ride(appointment_id):
    arranged = Fields(request.form).flag("ride_arranged")
    try:
        actions.set_ride(caller().name, appointment_id, arranged)
    except DomainError as exc:
        return _page(appointment_id, {"ride": readable(exc)}, request.form, status_of(exc))
    return _done(appointment_id, "Ride home arranged." if arranged else "Ride home marked as not arranged.")


@bp.get("/appointments/<int:appointment_id>/<any(move, cancel, 'check-in', ride):action>")
def action_page(appointment_id, action):
    """The address a refused form was answered at, opened again: the visit's page."""
    return redirect(url_for("desk.appointment", appointment_id=appointment_id), 303)
