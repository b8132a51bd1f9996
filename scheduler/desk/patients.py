"""Finding a patient, their visits and texts, and adding a new one."""
import datetime as dt

from flask import flash, redirect, render_template, request, url_for

from ..domain.errors import DomainError
from . import actions, bp
from .auth import caller
from .forms import Fields
from .views import is_htmx, readable, status_of


@bp.get("/patients")
def patients():
    q = Fields(request.args).text("q", max_length=100)
    understood, rows, more, error = None, [], False, None
    if q:
        try:
            understood, rows, more = actions.find_patients(q)
        except DomainError as exc:
            error = readable(exc)
    template = "desk/_patient_results.html" if is_htmx() else "desk/patients.html"
    return render_template(template, q=q, understood=understood, rows=rows, more=more, error=error)


@bp.get("/patients/<int:patient_id>")
def patient(patient_id):
    return render_template("desk/patient.html", record=actions.patient(patient_id))


@bp.get("/patients/new")
def new_patient():
    return render_template("desk/patient_new.html", values={}, errors={}, error=None,
                           choices=actions.choices())


@bp.post("/patients")
def create_patient():
    f = Fields(request.form)
    values = dict(name=f.text("name", required=True, max_length=200), phone=f.phone("phone"),
                  home_location_id=f.integer("home_location_id", required=True),
                  date_of_birth=f.day("date_of_birth", earliest=dt.date(1900, 1, 1),
                                      latest=actions.now().date()), sms_consent=f.flag("sms_consent"))
    error, status = None, 422
    if not f.errors:
        try:
            created = actions.create_patient(caller().name, values)
        except DomainError as exc:
            error, status = readable(exc), status_of(exc)
        else:
            flash(f"Added {created.name}.", "notice")
            return redirect(url_for("desk.patient", patient_id=created.id), 303)
    return render_template("desk/patient_new.html", values=request.form, errors=f.errors,
                           error=error or "Some fields need attention.", choices=actions.choices()), status
