"""The day board, finding a time and booking it, and the desk's error pages."""
from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from ..api.errors import DOMAIN_STATUS
from ..domain.errors import DomainError
from ..extensions import db
from . import actions, bp
from .auth import caller
from .forms import Fields
from .formatting import helpers, hm, when

bp.context_processor(helpers)

FIELD_LABELS = {"patient_id": "Patient", "provider_id": "Provider", "room_id": "Room",
                "location_id": "Location", "session_type": "Session type", "start": "Start",
                "home_location_id": "Home location", "follows_appointment_id": "Follows"}


def readable(error: DomainError) -> str:
    """The refusal as one sentence or two, fields named the way the form names them."""
    details = [f"{FIELD_LABELS.get(k, k.replace('_', ' ').capitalize())}: {' '.join(map(str, v))}"
               for k, v in (error.errors or {}).items() if isinstance(v, list)]
    return " ".join([error.message, *details]) if details else error.message


def status_of(error: DomainError) -> int:
    return next((s for cls, s in DOMAIN_STATUS if isinstance(error, cls)), 400)


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def origin_of(value: str | None, fallback: str) -> str:
    """A page of the desk to go back to (never another site)."""
    parts = urlsplit(value or "")
    if value and not parts.scheme and not parts.netloc and parts.path.startswith("/desk/"):
        return value
    return fallback


@bp.get("/")
def index():
    return redirect(url_for("desk.board"), 303)


@bp.get("/board")
def board():
    f = Fields(request.args)
    location_id, day = f.integer("location_id"), f.day("date")
    page = actions.board_page(location_id, day)
    return render_template("desk/board.html", page=page, board=page.board, errors=f.errors,
                           highlight=f.integer("highlight"), choices=page.choices)


def _find_args(f: Fields) -> dict:
    return dict(location_id=f.integer("location_id"), day=f.day("date"),
                session_type=f.text("session_type", max_length=40) or None,
                days=min(max(f.integer("days") or 1, 1), actions.MAX_DAYS),
                patient_id=f.integer("patient_id"), patient_q=f.text("patient_q", max_length=100),
                provider_id=f.integer("provider_id"), telehealth=f.flag("telehealth"))


@bp.get("/find")
def find():
    f = Fields(request.args)
    args = _find_args(f)
    error = None
    try:
        page = actions.find_page(**args)
    except DomainError as exc:
        error = readable(exc)
        page = actions.find_page(**{**args, "session_type": None, "patient_id": None, "provider_id": None})
    origin = origin_of(request.headers.get("HX-Current-URL") and
                       _path_of(request.headers["HX-Current-URL"]), request.full_path)
    context = dict(page=page, args=args, error=error, errors=f.errors, origin=origin,
                   ride=f.flag("ride_arranged"), choices=page.choices)
    template = "desk/_find_results.html" if is_htmx() else "desk/find.html"
    return render_template(template, **context)


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@bp.get("/patients/pick")
def pick_patient():
    """The patients whose name (or phone, or birth date) matches, as choices for a form."""
    q = Fields(request.args).text("patient_q", max_length=100)
    matches, error = (), None
    if q:
        try:
            _query, rows, _more = actions.find_patients(q)
            matches = tuple((p.id, p.name) for p in rows[:10])
        except DomainError as exc:
            error = readable(exc)
    return render_template("desk/_patient_choices.html", matches=matches, q=q, pick_error=error,
                           chosen=None)


@bp.post("/appointments")
def book():
    f = Fields(request.form)
    values = dict(patient_id=f.integer("patient_id", required=True),
                  session_type=f.text("session_type", required=True, max_length=40),
                  location_id=f.integer("location_id", required=True), start=f.instant("start"),
                  provider_id=f.integer("provider_id"), room_id=f.integer("room_id"),
                  telehealth=f.flag("telehealth"), ride_arranged=True if f.flag("ride_arranged") else None)
    origin = origin_of(request.form.get("origin"), url_for("desk.board"))
    if f.errors:
        missing = ", ".join(FIELD_LABELS.get(k, k) + (" (choose a patient first)" if k == "patient_id" else "")
                            for k in f.errors)
        flash(f"Not booked: {missing}.", "book-error")
        return redirect(origin, 303)
    try:
        appointment = actions.book(caller().name, **values)
    except DomainError as exc:
        flash(f"Not booked: {readable(exc)}", "book-error")
        return redirect(origin, 303)
    tz = appointment.location.timezone
    flash(f"Booked {appointment.patient.name}: {appointment.session_type.name}, {when(appointment.start_at, tz)}"
          f"–{hm(appointment.end_at, tz)} with {appointment.provider.name}"
          + (f" in {appointment.room.name}." if appointment.room else " (telehealth)."), "notice")
    return redirect(url_for("desk.board", location_id=appointment.location_id,
                            date=appointment.local_date.isoformat(), highlight=appointment.id,
                            _anchor=f"appt-{appointment.id}"), 303)


@bp.get("/appointments")
def book_page():
    return redirect(url_for("desk.find"), 303)


@bp.route("/<path:rest>")
def not_found(rest):
    return render_template("desk/error.html", title="Not found",
                           message="There is no such page on the front desk."), 404


@bp.errorhandler(404)
def _not_found(_error):
    return render_template("desk/error.html", title="Not found",
                           message="There is no such page on the front desk."), 404


@bp.errorhandler(DomainError)
def _domain_error(error: DomainError):
    return render_template("desk/error.html", title="Not possible", message=readable(error)), status_of(error)


@bp.errorhandler(OperationalError)
def _database_unavailable(_error):
    try:
        db.session.rollback()
    except SQLAlchemyError:
        pass
    return render_template("desk/error.html", title="Please try again",
                           message="The database is busy or unavailable; nothing was changed. "
                                   "Try again in a moment."), 503, {"Retry-After": "5"}


@bp.errorhandler(500)
def _server_error(_error):
    return render_template("desk/error.html", title="Something went wrong",
                           message="Something went wrong on our side; nothing was changed. "
                                   "Try again, or tell whoever runs this service."), 500
