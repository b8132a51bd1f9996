"""The front desk's web app at /desk/: server-rendered pages and a little vendored htmx.

Same roles as the API (admin and front_desk; calendar keys are refused). A person signs in
with an API key once; the browser then holds a signed session cookie that names the key
(id and hash fingerprint), never the key itself. Views parse the form, call one function of
``actions`` (the only module here that calls the services), and render.
"""
import datetime as dt

from flask import Blueprint, render_template

bp = Blueprint("desk", __name__, url_prefix="/desk", template_folder="templates",
               static_folder="static", static_url_path="/static")

IDLE_LIMIT = dt.timedelta(hours=12)
# Scripts and style sheets only from our own files. Style *attributes* are allowed: the
# board places each appointment with a computed left/width, and autoescaping keeps data
# out of them.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")


def register(app) -> None:
    """Mount the desk on the app (one call in create_app)."""
    from . import appointments, auth, patients, views  # noqa: F401  (their routes)

    app.config.update(
        # The API never uses the session: this cookie is the desk's alone.
        SESSION_COOKIE_NAME="desk_session", SESSION_COOKIE_PATH="/desk",
        SESSION_COOKIE_SECURE=True, SESSION_COOKIE_HTTPONLY=True,
        # Strict: no other site's page can make the browser send it (a link from an e-mail
        # lands on the sign-in page once; a desk that is open in a tab is unaffected).
        SESSION_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=IDLE_LIMIT)
    app.register_blueprint(bp)
    app.add_url_rule("/", "landing", landing)


@bp.after_request
def _headers(response):
    response.headers["Content-Security-Policy"] = CSP
    if not response.headers.get("Cache-Control") and response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"  # patient data: never in a shared cache
    return response


def landing():
    """`/`: where the front desk's screen and the API's documentation are."""
    response = render_template("desk/landing.html")
    return response, 200, {"Content-Security-Policy": CSP}
