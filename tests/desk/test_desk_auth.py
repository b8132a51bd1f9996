"""Signing in to the desk: roles, the session cookie, CSRF, revocation and idle expiry."""

import pytest
from flask.sessions import SecureCookieSessionInterface

from scheduler.extensions import db
from scheduler.models import ApiKey, Appointment
from tests.conftest import NOW
from tests.support.desk_clinic import at, book, seed_clinic


def session_of(app, client) -> dict:
    cookie = client.get_cookie("desk_session", path="/desk")
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    return serializer.loads(cookie.value)


def test_signing_in_sets_a_secure_httponly_strict_cookie_without_the_key(app, desk, keys):
    response = desk.sign_in(keys["front_desk"])
    assert response.status_code == 303 and response.headers["Location"] == "/desk/"
    header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("desk_session="))
    flags = {part.strip().split("=")[0].lower() for part in header.split(";")}
    assert {"secure", "httponly", "expires", "path"} <= flags
    assert "SameSite=Strict" in header and "Path=/desk" in header
    stored = session_of(app, desk.client)
    assert keys["front_desk"] not in header and keys["front_desk"] not in repr(stored)
    row = db.session.query(ApiKey).filter_by(role="front_desk").one()
    assert stored["key_id"] == row.id and row.key_hash.startswith(stored["key_fp"])


@pytest.mark.parametrize("role", ["admin", "front_desk"])
def test_staff_roles_may_use_the_desk(desk, keys, role):
    seed_clinic()
    desk.sign_in(keys[role])
    page = desk.text("/desk/board")
    assert "Pasadena: Tuesday 1 January 2030" in page
    assert f"{role} test key ({role.replace('_', ' ')})" in page


def test_a_calendar_key_is_refused_with_a_sentence(desk, keys):
    response = desk.sign_in(keys["calendar"])
    assert response.status_code == 403
    assert "A calendar key cannot use the front desk." in response.get_data(as_text=True)
    assert desk.get("/desk/board").status_code == 303


def test_a_wrong_key_is_refused(desk):
    response = desk.sign_in("ks_" + "x" * 40)
    assert response.status_code == 401
    assert "That key is not valid, or it was revoked." in response.get_data(as_text=True)


def test_pages_need_signing_in_and_come_back_after(desk, keys):
    seed_clinic()
    response = desk.get("/desk/patients?q=ellis")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/desk/sign-in?next=/desk/patients")
    htmx = desk.get("/desk/patients?q=ellis", headers={"HX-Request": "true"})
    assert htmx.headers["HX-Redirect"].startswith("/desk/sign-in")
    page = desk.get("/desk/sign-in")
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    signed = desk.client.post("/desk/sign-in", data={"api_key": keys["admin"], "csrf_token": token,
                                                     "next": "/desk/patients?q=ellis"})
    assert signed.headers["Location"] == "/desk/patients?q=ellis"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/desk/", "/api/v1/patients"])
def test_sign_in_never_sends_you_off_the_desk(desk, keys, target):
    page = desk.get("/desk/sign-in")
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    signed = desk.client.post("/desk/sign-in", data={"api_key": keys["admin"], "csrf_token": token,
                                                     "next": target})
    assert signed.headers["Location"] == "/desk/"


def test_sign_in_itself_needs_the_csrf_token(desk, keys):
    desk.get("/desk/sign-in")
    response = desk.client.post("/desk/sign-in", data={"api_key": keys["admin"]})
    assert response.status_code == 403
    assert desk.get("/desk/board").status_code == 303


def test_a_form_without_the_token_changes_nothing(signed_in):
    c = seed_clinic()
    visit = book(c["jordan"], "ketamine_iv", at("10:00"), NOW)
    for token in (None, "forged-token"):
        data = {"reason": "forged"} if token is None else {"reason": "forged", "csrf_token": token}
        response = signed_in.post(f"/desk/appointments/{visit.id}/cancel", data, csrf=False)
        assert response.status_code == 403
        assert "That form was refused" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Appointment, visit.id).status == "booked"


def test_htmx_requests_may_send_the_token_as_a_header(signed_in):
    c = seed_clinic()
    visit = book(c["jordan"], "ketamine_iv", at("10:00"), NOW)
    response = signed_in.client.post(f"/desk/appointments/{visit.id}/cancel", data={"reason": "called"},
                                     headers={"X-CSRF-Token": signed_in.token, "HX-Request": "true"})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Appointment, visit.id).status == "cancelled"


def test_a_revoked_key_ends_the_session_at_the_next_request(signed_in):
    seed_clinic()
    assert signed_in.get("/desk/board").status_code == 200
    key = db.session.query(ApiKey).filter_by(role="front_desk").one()
    key.revoked_at = NOW
    db.session.commit()
    response = signed_in.get("/desk/board")
    assert response.status_code == 303
    page = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your key no longer works" in page


def test_a_key_whose_id_now_belongs_to_another_key_ends_the_session(app, signed_in):
    seed_clinic()
    key = db.session.query(ApiKey).filter_by(role="front_desk").one()
    key.key_hash = "0" * 64  # e.g. the database was reset and id 2 is someone else's key now
    db.session.commit()
    assert signed_in.get("/desk/board").status_code == 303


def test_twelve_idle_hours_end_the_session(signed_in, clock):
    seed_clinic()
    clock.advance(hours=11, minutes=59)
    assert signed_in.get("/desk/board").status_code == 200  # activity restarts the twelve hours
    clock.advance(hours=11, minutes=59)
    assert signed_in.get("/desk/board").status_code == 200
    clock.advance(hours=12, minutes=1)
    response = signed_in.get("/desk/board")
    assert response.status_code == 303
    assert "12 hours without activity" in signed_in.get(response.headers["Location"]).get_data(as_text=True)
    clock.set(NOW)


def test_signing_out_needs_a_post_with_the_token(signed_in):
    seed_clinic()
    assert signed_in.post("/desk/sign-out", csrf=False).status_code == 403
    assert signed_in.get("/desk/board").status_code == 200
    assert signed_in.post("/desk/sign-out").status_code == 303
    assert signed_in.get("/desk/board").status_code == 303


def test_desk_pages_carry_a_strict_content_security_policy(signed_in):
    seed_clinic()
    response = signed_in.get("/desk/board")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy and "'unsafe-eval'" not in policy
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_vendored_script_and_styles_are_served_by_the_app(client):
    for name in ("htmx.min.js", "desk.css", "htmx.LICENSE.txt"):
        response = client.get(f"/desk/static/{name}")
        assert response.status_code == 200 and len(response.data) > 500
    assert b"htmx" in client.get("/desk/static/htmx.min.js").data


def test_the_root_leads_to_the_desk_and_the_docs(client):
    page = client.get("/").get_data(as_text=True)
    assert 'href="/desk/"' in page and 'href="/api/docs"' in page


def test_an_unknown_desk_page_is_an_html_404(signed_in):
    response = signed_in.get("/desk/no-such-page")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "There is no such page" in response.get_data(as_text=True)
    missing = signed_in.get("/desk/appointments/999999")
    assert missing.status_code == 404 and "No appointment with id 999999." in missing.get_data(as_text=True)


def test_a_session_that_was_never_signed_in_is_not_enough(desk):
    desk.get("/desk/sign-in")  # an anonymous session with a CSRF token
    assert desk.get("/desk/board").status_code == 303


def test_addresses_of_forms_opened_as_pages_lead_somewhere_useful(signed_in):
    c = seed_clinic()
    visit = book(c["jordan"], "ketamine_iv", at("10:00"), NOW)
    for action in ("move", "cancel", "check-in"):
        response = signed_in.get(f"/desk/appointments/{visit.id}/{action}")
        assert response.headers["Location"] == f"/desk/appointments/{visit.id}"
    assert signed_in.get("/desk/appointments").headers["Location"] == "/desk/find"
    assert "Sign out now" in signed_in.text("/desk/sign-out")
    missing = signed_in.get("/desk/static/no-such-file.js")
    assert missing.status_code == 404 and missing.mimetype == "text/html"
