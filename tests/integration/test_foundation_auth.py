"""Bearer keys and roles: every /api/v1 route is closed without a key, roles are enforced,
undeclared routes are closed to everyone, and keys are only ever stored hashed."""
import datetime as dt
import re

import pytest
from flask import Blueprint
from flask.views import MethodView
from sqlalchemy import select, text

from scheduler import create_app
from scheduler.extensions import db
from scheduler.models import ApiKey

PUBLIC = {"api-docs.openapi_json"}
UNKNOWN_ID = 999999


def _concrete(rule) -> str:
    """A URL for the rule, every argument filled with a value that names nothing."""
    def fill(match):
        converter = match.group(1) or "default"
        return str(UNKNOWN_ID) if converter == "int" else "nothing-here"
    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>", fill, rule.rule)


def api_routes(app):
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1") or rule.endpoint in PUBLIC:
            continue
        for method in sorted(rule.methods - {"OPTIONS", "HEAD"}):
            routes.append((method, _concrete(rule), rule.endpoint))
    return routes


def assert_error_format(response, status, code=None):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"code", "message", "errors"}
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errors"], dict)
    if code:
        assert body["code"] == code


def _send(client, method, url, headers=None):
    kwargs = {"json": {}} if method in ("POST", "PATCH", "PUT") else {}
    return client.open(url, method=method, headers=headers or {}, **kwargs)


# Missing and wrong keys ---------------------------------------------------------------

def test_route_walk_covers_the_foundation_resources(app):
    endpoints = {endpoint for _, _, endpoint in api_routes(app)}
    assert {"locations.Locations", "rooms.RoomById", "availability.AvailabilityById",
            "time_off.TimeOffById", "session_types.SessionTypeByCode",
            "patients.PatientById"} <= endpoints


def test_every_api_route_answers_401_without_a_key(app, client):
    failures = []
    for method, url, _ in api_routes(app):
        response = _send(client, method, url)
        body = response.get_json(silent=True) or {}
        if (response.status_code != 401 or set(body) != {"code", "message", "errors"}
                or body.get("code") != "unauthorized"
                or not response.headers.get("WWW-Authenticate", "").startswith("Bearer")):
            failures.append(f"{method} {url}: {response.status_code} {body}")
    assert failures == []


@pytest.mark.parametrize("authorization", [
    "Bearer ks_thisisnotakeythisisnotakeythisisnotakey",
    "Bearer ",
    "Bearer x",
    "Basic YWRtaW46YWRtaW4=",
    "ks_abcdefghijklmnopqrstuvwxyz",
    "Bearer " + "ks_" + "a" * 300,
    "Bearer ks_\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9",
])
def test_every_api_route_answers_401_to_a_wrong_key(app, client, keys, authorization):
    failures = []
    for method, url, _ in api_routes(app):
        response = _send(client, method, url, {"Authorization": authorization})
        if response.status_code != 401 or response.get_json().get("code") != "unauthorized":
            failures.append(f"{method} {url}: {response.status_code}")
    assert failures == []


def test_a_key_differing_in_one_character_is_refused(api, keys):
    real = keys["admin"]
    forged = real[:-1] + ("A" if real[-1] != "A" else "B")
    response = api.client.get("/api/v1/locations", headers={"Authorization": f"Bearer {forged}"})
    assert_error_format(response, 401, "unauthorized")


def test_bearer_scheme_is_case_insensitive(api, keys):
    response = api.client.get("/api/v1/locations",
                              headers={"Authorization": f"bearer {keys['admin']}"})
    assert response.status_code == 200


def test_revoked_key_is_refused(api, keys):
    assert api.get("/locations", as_="front_desk").status_code == 200
    row = db.session.scalar(select(ApiKey).where(ApiKey.name == "front_desk test key"))
    row.revoked_at = dt.datetime(2029, 12, 31, tzinfo=dt.timezone.utc)
    db.session.commit()

    response = api.get("/locations", as_="front_desk")

    assert_error_format(response, 401, "unauthorized")
    assert api.get("/locations", as_="admin").status_code == 200


def test_paths_outside_the_api_need_no_key(api):
    assert api.get("/healthz", as_=None).status_code == 200
    assert api.get("/api/v1/openapi.json", as_=None).status_code == 200


def test_unknown_api_path_is_401_without_a_key_and_404_with_one(api):
    assert_error_format(api.get("/no-such-thing", as_=None), 401, "unauthorized")
    assert_error_format(api.get("/no-such-thing", as_="admin"), 404, "not_found")


# Roles --------------------------------------------------------------------------------

def test_admin_is_never_refused_by_role_and_never_gets_a_500(app, client, keys):
    failures = []
    for method, url, _ in api_routes(app):
        response = _send(client, method, url, {"Authorization": f"Bearer {keys['admin']}"})
        if response.status_code in (401, 403) or response.status_code >= 500:
            failures.append(f"{method} {url}: {response.status_code}")
    assert failures == []


@pytest.fixture
def clinic(api):
    """One of each foundation resource, created by the admin."""
    loc = api.post("/locations", json={
        "name": "Santa Barbara", "slug": "santa-barbara", "timezone": "America/Los_Angeles",
        "state": "CA", "phone": "+18055550100", "sms_display_name": "SB Clinic"}).get_json()
    room = api.post(f"/locations/{loc['id']}/rooms",
                    json={"name": "Chair 1", "kind": "treatment"}).get_json()
    prov = api.post("/providers", json={"name": "Dr. Chen", "capabilities": ["prescriber"],
                                        "licensed_states": ["CA"]}).get_json()
    rule = api.post(f"/providers/{prov['id']}/availability", json={
        "location_id": loc["id"], "weekday": "mon", "start_time": "08:00",
        "end_time": "12:00"}).get_json()
    off = api.post(f"/providers/{prov['id']}/time-off", json={
        "start": "2030-02-01T00:00:00-08:00", "end": "2030-02-02T00:00:00-08:00"}).get_json()
    pat = api.post("/patients", json={"name": "Jordan Ellis", "phone": "+18055550111",
                                      "home_location_id": loc["id"]}).get_json()
    return {"location": loc, "room": room, "provider": prov, "rule": rule, "time_off": off,
            "patient": pat}


def _reads(c):
    p = c["provider"]["id"]
    return ["/locations", f"/locations/{c['location']['id']}",
            f"/locations/{c['location']['id']}/rooms", f"/rooms/{c['room']['id']}",
            "/providers", f"/providers/{p}", f"/providers/{p}/availability",
            f"/providers/{p}/time-off", "/session-types", "/session-types/ketamine_iv",
            "/patients", f"/patients/{c['patient']['id']}"]


def test_front_desk_reads_every_reference_resource(api, clinic):
    for path in _reads(clinic):
        response = api.get(path, as_="front_desk")
        assert response.status_code == 200, (path, response.get_json())


def test_front_desk_writes_patients(api, clinic):
    created = api.post("/patients", as_="front_desk", json={
        "name": "Riley Morgan", "phone": "+16265550112",
        "home_location_id": clinic["location"]["id"]})
    assert created.status_code == 201
    patched = api.patch(f"/patients/{created.get_json()['id']}", as_="front_desk",
                        json={"sms_consent": True})
    assert patched.status_code == 200 and patched.get_json()["sms_consent"] is True


def test_front_desk_records_and_removes_time_off(api, clinic):
    p = clinic["provider"]["id"]
    created = api.post(f"/providers/{p}/time-off", as_="front_desk", json={
        "start": "2030-03-01T09:00:00-08:00", "end": "2030-03-01T12:00:00-08:00",
        "reason": "dentist"})
    assert created.status_code == 201
    deleted = api.delete(f"/providers/{p}/time-off/{created.get_json()['id']}", as_="front_desk")
    assert deleted.status_code == 204


def _admin_only_writes(c):
    loc, p = c["location"]["id"], c["provider"]["id"]
    return [
        ("POST", "/locations", {"name": "Pasadena", "slug": "pasadena",
                                "timezone": "America/Los_Angeles", "state": "CA",
                                "phone": "+16265550100", "sms_display_name": "Pasadena"}),
        ("PATCH", f"/locations/{loc}", {"name": "Renamed"}),
        ("POST", f"/locations/{loc}/rooms", {"name": "Chair 2", "kind": "treatment"}),
        ("PATCH", f"/rooms/{c['room']['id']}", {"active": False}),
        ("POST", "/providers", {"name": "Dr. Ortiz", "capabilities": ["prescriber"],
                                "licensed_states": ["CA"]}),
        ("PATCH", f"/providers/{p}", {"name": "Renamed"}),
        ("POST", f"/providers/{p}/availability", {"location_id": loc, "weekday": "tue",
                                                  "start_time": "08:00", "end_time": "12:00"}),
        ("DELETE", f"/providers/{p}/availability/{c['rule']['id']}", None),
        ("PATCH", "/session-types/ketamine_iv", {"name": "Renamed"}),
    ]


def test_front_desk_is_refused_admin_writes_and_nothing_changes(api, clinic):
    for method, path, body in _admin_only_writes(clinic):
        response = api.request(method, path, as_="front_desk", json=body)
        assert_error_format(response, 403, "forbidden")
    assert api.get(f"/locations/{clinic['location']['id']}").get_json()["name"] == "Santa Barbara"
    assert len(api.get("/locations").get_json()["items"]) == 1
    assert len(api.get(f"/providers/{clinic['provider']['id']}/availability")
               .get_json()["items"]) == 1
    assert api.get("/session-types/ketamine_iv").get_json()["name"] == "IV ketamine infusion"


def test_admin_may_do_the_admin_writes(api, clinic):
    for method, path, body in _admin_only_writes(clinic):
        response = api.request(method, path, as_="admin", json=body)
        assert response.status_code in (200, 201, 204), (method, path, response.get_json())


def test_calendar_role_is_refused_reference_resources(api, clinic):
    for path in _reads(clinic):
        assert_error_format(api.get(path, as_="calendar"), 403, "forbidden")
    writes = _admin_only_writes(clinic) + [
        ("POST", "/patients", {"name": "X", "phone": "+18055550199",
                               "home_location_id": clinic["location"]["id"]}),
        ("PATCH", f"/patients/{clinic['patient']['id']}", {"name": "Y"}),
        ("POST", f"/providers/{clinic['provider']['id']}/time-off",
         {"start": "2030-03-01T09:00:00Z", "end": "2030-03-01T10:00:00Z"}),
        ("DELETE", f"/providers/{clinic['provider']['id']}/time-off/{clinic['time_off']['id']}",
         None),
    ]
    for method, path, body in writes:
        assert_error_format(api.request(method, path, as_="calendar", json=body), 403)
    assert len(api.get("/patients").get_json()["items"]) == 1


# Fail closed --------------------------------------------------------------------------

class _HalfDeclared(MethodView):
    def get(self):
        return {"ok": True}

    def post(self):  # no @allow: nobody may call it
        return {"ok": True}


_HalfDeclared.get.allowed_roles = frozenset({"admin"})


@pytest.fixture
def fresh_app(app, database_url):
    """A second app on the same database, with routes that forgot to declare roles."""
    fresh = create_app({"TESTING": True, "DATABASE_URL": database_url,
                        "SECRET_KEY": "test-secret-key-0123456789",
                        "SCHEDULER_EMBEDDED": False})
    bp = Blueprint("undeclared_test", __name__, url_prefix="/api/v1/_test")

    @bp.route("/plain", methods=["GET", "POST"])
    def plain():
        return {"reached": True}

    bp.add_url_rule("/half", view_func=_HalfDeclared.as_view("half"))
    fresh.register_blueprint(bp)
    yield fresh
    with fresh.app_context():
        db.session.remove()
        db.engine.dispose()


def test_route_without_declared_roles_is_closed_even_to_admin(fresh_app, keys):
    client = fresh_app.test_client()
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    for method in ("GET", "POST"):
        response = client.open("/api/v1/_test/plain", method=method, headers=admin)
        assert_error_format(response, 403, "forbidden")
        assert_error_format(client.open("/api/v1/_test/plain", method=method), 401)
    assert_error_format(client.post("/api/v1/_test/half", headers=admin), 403, "forbidden")
    # The declared method of the same view is reachable: the marker is what opens it.
    assert client.get("/api/v1/_test/half", headers=admin).get_json() == {"ok": True}
    assert client.get("/api/v1/locations", headers=admin).status_code == 200


# Keys at rest and the command that makes them -------------------------------------------

def test_plaintext_keys_never_reach_the_database(app, keys):
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM api_keys")).all()
    assert len(rows) == 3
    stored = " ".join(str(value) for row in rows for value in row)
    for key in keys.values():
        assert key not in stored
        assert key[len("ks_"):] not in stored


def test_create_api_key_command_prints_a_working_key_last(app, api):
    result = app.test_cli_runner().invoke(args=["create-api-key", "--role", "admin",
                                                "--name", "Ops laptop"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    key = lines[-1]
    assert re.fullmatch(r"ks_[A-Za-z0-9_-]{40,}", key)
    assert "Ops laptop" in "\n".join(lines[:-1])

    response = api.client.get("/api/v1/locations", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    created = api.client.post("/api/v1/providers", headers={"Authorization": f"Bearer {key}"},
                              json={"name": "Dr. Key", "capabilities": ["nurse"],
                                    "licensed_states": ["CA"]})
    assert created.status_code == 201
    row = db.session.scalar(select(ApiKey).where(ApiKey.name == "Ops laptop"))
    assert row.role == "admin" and row.key_hash != key


def test_create_api_key_command_role_is_enforced(app, api):
    result = app.test_cli_runner().invoke(args=["create-api-key", "--role", "calendar",
                                                "--name", "Feeds"])
    assert result.exit_code == 0
    key = result.output.strip().splitlines()[-1]
    response = api.client.get("/api/v1/locations", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 403


def test_create_api_key_command_refuses_a_duplicate_name(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["create-api-key", "--role", "admin", "--name", "Ops"]).exit_code == 0

    again = runner.invoke(args=["create-api-key", "--role", "front_desk", "--name", "Ops"])

    assert again.exit_code != 0
    assert "Ops" in again.output and "exists" in again.output
    assert "Traceback" not in again.output
    assert not re.search(r"^ks_", again.output, re.M)
    assert db.session.scalar(select(ApiKey.role).where(ApiKey.name == "Ops")) == "admin"


def test_create_api_key_command_refuses_an_unknown_role(app):
    result = app.test_cli_runner().invoke(args=["create-api-key", "--role", "root",
                                                "--name", "Root"])
    assert result.exit_code != 0
    assert "root" in result.output
    assert db.session.scalar(select(ApiKey.id).where(ApiKey.name == "Root")) is None
