"""Signing in with an API key, the session that follows, roles, and CSRF on every form.

The session (Flask's cookie, signed with SECRET_KEY) holds the key's id and fingerprint,
when it was last used (by the app's clock, so tests need no sleeping) and a CSRF token.
Every request re-reads the key: a revoked key ends the session at once.
"""
import hmac
import secrets
from urllib.parse import urlsplit

from flask import current_app, flash, g, redirect, render_template, request, session, url_for

from ..api.auth import STAFF
from . import IDLE_LIMIT, actions, bp

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
OPEN_ENDPOINTS = {"desk.static", "desk.sign_in", "desk.not_found"}


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def caller():
    return g.get("desk_caller")


@bp.before_request
def _guard():
    g.desk_caller = None
    if request.endpoint == "desk.static":
        return None
    if "key_id" in session:
        _resume()
    if request.method == "POST" and not _csrf_ok():
        if request.endpoint == "desk.sign_in" or g.desk_caller is not None:
            return render_template("desk/refused.html"), 403
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if g.desk_caller is None:
        return _to_sign_in()
    return None


def _resume() -> None:
    now = current_app.extensions["clock"].now().timestamp()
    found = actions.caller_for(session.get("key_id"), session.get("key_fp", ""))
    if now - session.get("seen", 0) > IDLE_LIMIT.total_seconds():
        _forget("You were signed out after 12 hours without activity. Sign in again.")
    elif found is None or found.role not in STAFF:
        _forget("Your key no longer works (it was revoked or replaced). Sign in with a current key.")
    else:
        g.desk_caller = found
        session["seen"] = int(now)


def _forget(message: str, category: str = "warning") -> None:
    session.clear()
    flash(message, category)


def _csrf_ok() -> bool:
    expected = session.get("csrf")
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    return bool(expected) and hmac.compare_digest(str(expected), str(sent))


def _to_sign_in():
    target = url_for("desk.sign_in", next=request.full_path if request.method == "GET" else None)
    if request.headers.get("HX-Request"):
        return "", 200, {"HX-Redirect": target}  # a whole page, not a sign-in form in a panel
    return redirect(target, 303)


def _safe_next(value: str | None) -> str:
    parts = urlsplit(value or "")
    if value and not parts.scheme and not parts.netloc and parts.path.startswith("/desk/") \
            and not value.startswith("//"):
        return value
    return url_for("desk.index")


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    if request.method == "GET":
        if caller() is not None:
            return redirect(_safe_next(request.args.get("next")), 303)
        return render_template("desk/sign_in.html", next=request.args.get("next", ""),
                               insecure=_cookie_would_be_dropped())
    found = actions.sign_in(request.form.get("api_key", "").strip())
    error, status = None, 200
    if found is None:
        error, status = "That key is not valid, or it was revoked.", 401
    elif found[0].role not in STAFF:
        error, status = (f"A {found[0].role} key cannot use the front desk. Sign in with a "
                         "front desk or admin key."), 403
    if error:
        return render_template("desk/sign_in.html", error=error, next=request.form.get("next", ""),
                               insecure=_cookie_would_be_dropped()), status
    who, ref = found
    session.clear()  # a fresh session (and CSRF token) for the signed-in person
    session.permanent = True
    session.update(key_id=ref.id, key_fp=ref.fingerprint, csrf=secrets.token_urlsafe(32),
                   seen=int(current_app.extensions["clock"].now().timestamp()))
    flash(f"Signed in as {who.name} ({who.role.replace('_', ' ')}).", "notice")
    return redirect(_safe_next(request.form.get("next")), 303)


@bp.get("/sign-out")
def sign_out_page():
    return render_template("desk/sign_out.html")


@bp.post("/sign-out")
def sign_out():
    _forget("Signed out.", "notice")
    return redirect(url_for("desk.sign_in"), 303)


def _cookie_would_be_dropped() -> bool:
    """The session cookie is Secure: a browser keeps it over https or on this machine only."""
    host = (request.host or "").rsplit(":", 1)[0].strip("[]")
    return not request.is_secure and host not in ("localhost", "127.0.0.1", "::1")
