"""The reference resources: create, read, list, change; validation that names each field;
pagination; ETags and If-Match; the clinical and licensing rules their edits must keep."""
import pytest
from sqlalchemy import func, select

from scheduler.extensions import db
from scheduler.models import AuditEntry, Location, Patient

LA = "America/Los_Angeles"


def location_body(**overrides):
    return {"name": "Santa Barbara", "slug": "santa-barbara", "timezone": LA, "state": "CA",
            "phone": "+18055550100", "sms_display_name": "SB Clinic",
            "address": "1 Demo Way", "opening_hours": {"mon": [["08:00", "18:00"]]},
            "monitoring_ratio": 3, **overrides}


def provider_body(**overrides):
    return {"name": "Dr. Maya Chen", "capabilities": ["prescriber"],
            "licensed_states": ["CA"], **overrides}


def rule_body(at_location, **overrides):
    return {"location_id": at_location, "weekday": "mon", "start_time": "08:00",
            "end_time": "12:00", **overrides}


def assert_error(response, status, code=None, fields=()):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"code", "message", "errors"}
    assert body["message"]
    if code:
        assert body["code"] == code
    for field in fields:
        assert field in body["errors"], (field, body["errors"])
    return body


@pytest.fixture
def location(api):
    return api.post("/locations", json=location_body()).get_json()


@pytest.fixture
def oregon(api):
    return api.post("/locations", json=location_body(
        name="Portland", slug="portland", state="OR", phone="+15035550100")).get_json()


@pytest.fixture
def provider(api):
    return api.post("/providers", json=provider_body()).get_json()


def audit_count():
    return db.session.scalar(select(func.count()).select_from(AuditEntry))


# Create, read, list, change -----------------------------------------------------------

def test_location_lifecycle(api):
    created = api.post("/locations", json=location_body())
    assert created.status_code == 201
    loc = created.get_json()
    assert created.headers["ETag"] == f'"locations-{loc["id"]}-v1"'
    assert {k: loc[k] for k in ("name", "slug", "timezone", "state", "phone", "sms_display_name",
                                "address", "opening_hours", "monitoring_ratio", "version")} == {
        "name": "Santa Barbara", "slug": "santa-barbara", "timezone": LA, "state": "CA",
        "phone": "+18055550100", "sms_display_name": "SB Clinic", "address": "1 Demo Way",
        "opening_hours": {"mon": [["08:00", "18:00"]]}, "monitoring_ratio": 3, "version": 1}

    got = api.get(f"/locations/{loc['id']}")
    assert got.status_code == 200 and got.get_json() == loc
    assert got.headers["ETag"] == created.headers["ETag"]

    listed = api.get("/locations").get_json()
    assert listed == {"items": [loc], "next_cursor": None}

    patched = api.patch(f"/locations/{loc['id']}", json={"monitoring_ratio": 4,
                                                         "opening_hours": {}})
    assert patched.status_code == 200
    assert patched.get_json()["version"] == 2 and patched.get_json()["monitoring_ratio"] == 4
    assert patched.get_json()["opening_hours"] == {}
    assert patched.headers["ETag"] == f'"locations-{loc["id"]}-v2"'
    assert api.get(f"/locations/{loc['id']}").get_json()["monitoring_ratio"] == 4


def test_location_defaults_fill_the_optional_fields(api):
    body = location_body()
    for optional in ("address", "opening_hours", "monitoring_ratio"):
        body.pop(optional)
    loc = api.post("/locations", json=body).get_json()
    assert loc["address"] == "" and loc["opening_hours"] == {} and loc["monitoring_ratio"] == 3


def test_patch_without_a_change_keeps_the_version(api, location):
    patched = api.patch(f"/locations/{location['id']}", json={"name": location["name"]})
    assert patched.status_code == 200 and patched.get_json()["version"] == 1


def test_duplicate_location_slug_is_a_conflict(api, location):
    response = api.post("/locations", json=location_body(name="Another"))
    assert_error(response, 409, "duplicate")
    assert len(api.get("/locations").get_json()["items"]) == 1


def test_room_lifecycle(api, location):
    created = api.post(f"/locations/{location['id']}/rooms",
                       json={"name": "Chair 1", "kind": "treatment"})
    assert created.status_code == 201
    room = created.get_json()
    assert room["location_id"] == location["id"] and room["kind"] == "treatment"
    assert room["active"] is True and room["version"] == 1
    assert created.headers["ETag"] == f'"rooms-{room["id"]}-v1"'

    assert api.get(f"/rooms/{room['id']}").get_json() == room
    assert api.get(f"/locations/{location['id']}/rooms").get_json() == {
        "items": [room], "next_cursor": None}

    patched = api.patch(f"/rooms/{room['id']}", json={"active": False, "kind": "therapy"})
    assert patched.status_code == 200
    assert patched.get_json()["active"] is False and patched.get_json()["version"] == 2


def test_rooms_of_an_unknown_location_are_404(api):
    assert_error(api.get("/locations/424242/rooms"), 404, "not_found")
    assert_error(api.post("/locations/424242/rooms", json={"name": "Chair 1", "kind": "treatment"}),
                 404, "not_found")


def test_rooms_are_listed_per_location(api, location, oregon):
    api.post(f"/locations/{location['id']}/rooms", json={"name": "Chair 1", "kind": "treatment"})
    api.post(f"/locations/{oregon['id']}/rooms", json={"name": "Office A", "kind": "therapy"})
    names = [r["name"] for r in api.get(f"/locations/{oregon['id']}/rooms").get_json()["items"]]
    assert names == ["Office A"]


def test_provider_lifecycle(api):
    created = api.post("/providers", json=provider_body(phone="(805) 555-0177",
                                                        licensed_states=["CA", "OR"]))
    assert created.status_code == 201
    prov = created.get_json()
    assert prov["capabilities"] == ["prescriber"] and prov["licensed_states"] == ["CA", "OR"]
    assert prov["phone"] == "+18055550177" and prov["active"] is True
    assert created.headers["ETag"] == f'"providers-{prov["id"]}-v1"'

    assert api.get(f"/providers/{prov['id']}").get_json() == prov
    assert api.get("/providers").get_json() == {"items": [prov], "next_cursor": None}

    patched = api.patch(f"/providers/{prov['id']}", json={"capabilities": ["prescriber", "nurse"]})
    assert patched.status_code == 200
    assert patched.get_json()["capabilities"] == ["prescriber", "nurse"]
    assert patched.get_json()["version"] == 2


def test_availability_rule_lifecycle(api, location, provider):
    path = f"/providers/{provider['id']}/availability"
    created = api.post(path, json=rule_body(location["id"], valid_from="2030-01-01",
                                            valid_until="2030-06-30"))
    assert created.status_code == 201
    rule = created.get_json()
    assert rule["provider_id"] == provider["id"] and rule["location_id"] == location["id"]
    assert (rule["weekday"], rule["start_time"], rule["end_time"]) == ("mon", "08:00", "12:00")
    assert (rule["valid_from"], rule["valid_until"]) == ("2030-01-01", "2030-06-30")
    assert created.headers.get("ETag")

    assert api.get(path).get_json() == {"items": [rule], "next_cursor": None}

    assert api.delete(f"{path}/{rule['id']}").status_code == 204
    assert api.get(path).get_json()["items"] == []
    assert_error(api.delete(f"{path}/{rule['id']}"), 404, "not_found")


def test_rule_ending_at_midnight_reads_back_as_24_00(api, location, provider):
    rule = api.post(f"/providers/{provider['id']}/availability",
                    json=rule_body(location["id"], start_time="18:00", end_time="24:00"))
    assert rule.status_code == 201
    # Stored as the last instant of the day; "23:59" would lose the final minute on a round trip.
    assert rule.get_json()["end_time"] == "24:00"
    listed = api.get(f"/providers/{provider['id']}/availability").get_json()["items"]
    assert listed[0]["end_time"] == "24:00"


def test_time_off_lifecycle(api, provider):
    path = f"/providers/{provider['id']}/time-off"
    created = api.post(path, json={"start": "2030-02-01T17:00:00Z", "end": "2030-02-01T19:30:00Z",
                                   "reason": "dentist"})
    assert created.status_code == 201
    entry = created.get_json()
    # Instants come back in the clinic's zone, with its offset.
    assert entry["start"] == "2030-02-01T09:00:00-08:00"
    assert entry["end"] == "2030-02-01T11:30:00-08:00"
    assert entry["reason"] == "dentist" and entry["provider_id"] == provider["id"]
    assert created.headers.get("ETag")

    assert api.get(path).get_json() == {"items": [entry], "next_cursor": None}
    assert api.delete(f"{path}/{entry['id']}").status_code == 204
    assert api.get(path).get_json()["items"] == []


def test_time_off_of_another_provider_cannot_be_deleted_through_this_one(api, provider):
    other = api.post("/providers", json=provider_body(name="Dr. Ortiz")).get_json()
    entry = api.post(f"/providers/{other['id']}/time-off", json={
        "start": "2030-02-01T17:00:00Z", "end": "2030-02-01T19:00:00Z"}).get_json()

    assert_error(api.delete(f"/providers/{provider['id']}/time-off/{entry['id']}"), 404)
    assert len(api.get(f"/providers/{other['id']}/time-off").get_json()["items"]) == 1


def test_session_types_are_seeded_readable_and_editable(api):
    listed = api.get("/session-types").get_json()
    codes = {t["code"] for t in listed["items"]}
    assert codes == {"ketamine_iv", "ketamine_im", "ketamine_sublingual", "esketamine_nasal",
                     "integration", "consultation"}
    got = api.get("/session-types/ketamine_iv")
    assert got.status_code == 200 and got.headers["ETag"]
    iv = got.get_json()
    assert (iv["category"], iv["room_kind"], iv["administering_minutes"]) == ("dosing", "treatment", 40)

    patched = api.patch("/session-types/ketamine_iv", json={"monitoring_minutes": 75})
    assert patched.status_code == 200
    assert patched.get_json()["monitoring_minutes"] == 75
    assert patched.get_json()["version"] == iv["version"] + 1


def test_session_type_code_and_category_are_read_only(api):
    response = api.patch("/session-types/integration", json={"category": "dosing", "code": "x"})
    assert_error(response, 422, fields=("category", "code"))
    assert api.get("/session-types/integration").get_json()["category"] == "integration"


def test_patient_lifecycle(api, location):
    created = api.post("/patients", json={
        "name": "Jordan Ellis", "phone": "(805) 555-0123", "home_location_id": location["id"],
        "sms_consent": True, "date_of_birth": "1985-04-12", "dosing_clearance_date": "2029-12-01"})
    assert created.status_code == 201
    pat = created.get_json()
    assert pat["phone"] == "+18055550123" and pat["sms_consent"] is True
    assert pat["sms_opted_out"] is False
    assert (pat["date_of_birth"], pat["dosing_clearance_date"]) == ("1985-04-12", "2029-12-01")
    assert created.headers["ETag"] == f'"patients-{pat["id"]}-v1"'

    assert api.get(f"/patients/{pat['id']}").get_json() == pat
    assert api.get("/patients").get_json() == {"items": [pat], "next_cursor": None}

    patched = api.patch(f"/patients/{pat['id']}", json={"name": "Jordan A. Ellis",
                                                        "dosing_clearance_date": None})
    assert patched.status_code == 200
    assert patched.get_json()["name"] == "Jordan A. Ellis"
    assert patched.get_json()["dosing_clearance_date"] is None
    assert patched.get_json()["version"] == 2


def test_patients_can_be_found_by_phone_in_any_spelling(api, location):
    for name, phone in (("A", "+18055550123"), ("B", "+18055550124")):
        api.post("/patients", json={"name": name, "phone": phone,
                                    "home_location_id": location["id"]})
    found = api.get("/patients", query_string={"phone": "(805) 555-0124"}).get_json()
    assert [p["name"] for p in found["items"]] == ["B"]


@pytest.mark.parametrize("path", ["/locations/424242", "/rooms/424242", "/providers/424242",
                                  "/patients/424242", "/session-types/no_such_type",
                                  "/providers/424242/availability", "/providers/424242/time-off"])
def test_unknown_ids_are_404_in_the_error_format(api, path):
    assert_error(api.get(path), 404, "not_found")


@pytest.mark.parametrize("method, path, body", [
    ("PATCH", "/locations/424242", {"name": "X"}),
    ("PATCH", "/rooms/424242", {"name": "X"}),
    ("PATCH", "/providers/424242", {"name": "X"}),
    ("PATCH", "/patients/424242", {"name": "X"}),
    ("PATCH", "/session-types/no_such_type", {"name": "X"}),
    ("POST", "/providers/424242/time-off", {"start": "2030-02-01T17:00:00Z",
                                            "end": "2030-02-01T19:00:00Z"}),
    ("DELETE", "/providers/424242/availability/1", None),
    ("DELETE", "/providers/424242/time-off/1", None),
])
def test_changes_to_unknown_ids_are_404(api, method, path, body):
    assert_error(api.request(method, path, json=body), 404, "not_found")
    assert audit_count() == 0


def test_rule_for_an_unknown_provider_is_404(api, location):
    assert_error(api.post("/providers/424242/availability", json=rule_body(location["id"])),
                 404, "not_found")


# Validation: 422 names each bad field ---------------------------------------------------

def test_location_validation_names_every_bad_field(api):
    response = api.post("/locations", json={
        "name": 5, "timezone": "Mars/Olympus_Mons", "state": "XX", "phone": "12",
        "sms_display_name": "", "monitoring_ratio": "three", "bogus": True,
        "opening_hours": {"funday": [["08:00", "18:00"]]}})
    body = assert_error(response, 422, "validation_error",
                        fields=("name", "slug", "timezone", "state", "phone", "sms_display_name",
                                "monitoring_ratio", "bogus", "opening_hours"))
    assert "slug" in body["message"]
    assert api.get("/locations").get_json()["items"] == []


@pytest.mark.parametrize("hours", [
    ["08:00", "18:00"],
    {"mon": "08:00-18:00"},
    {"mon": [["08:00"]]},
    {"mon": [["8am", "6pm"]]},
    {"mon": [["25:00", "26:00"]]},
    {"mon": [["18:00", "08:00"]]},
    {"mon": [["08:00", "12:00"], ["11:00", "14:00"]]},
    {"funday": [["08:00", "18:00"]]},
    {"mon": [[8, 18]]},
])
def test_malformed_opening_hours_are_422(api, hours):
    assert_error(api.post("/locations", json=location_body(opening_hours=hours)), 422,
                 fields=("opening_hours",))


@pytest.mark.parametrize("field, value", [
    ("timezone", "PST"), ("timezone", "America/Nowhere"), ("timezone", ""),
    ("state", "ca"), ("state", "California"), ("slug", "Santa Barbara"),
    ("phone", "not a phone"), ("monitoring_ratio", 0), ("name", ""), ("name", None),
])
def test_bad_location_values_are_422_naming_the_field(api, field, value):
    assert_error(api.post("/locations", json=location_body(**{field: value})), 422,
                 fields=(field,))


def test_location_patch_is_validated_too(api, location):
    response = api.patch(f"/locations/{location['id']}",
                         json={"timezone": "Europe/Atlantis", "state": "ZZ", "extra": 1})
    assert_error(response, 422, fields=("timezone", "state", "extra"))
    assert api.get(f"/locations/{location['id']}").get_json() == location


def test_room_kind_must_be_known(api, location):
    response = api.post(f"/locations/{location['id']}/rooms", json={"name": "Kitchen",
                                                                   "kind": "kitchen"})
    assert_error(response, 422, fields=("kind",))


@pytest.mark.parametrize("field, value", [
    ("capabilities", ["surgeon"]), ("capabilities", []), ("capabilities", "nurse"),
    ("capabilities", ["nurse", "nurse"]), ("licensed_states", ["ZZ"]), ("licensed_states", []),
    ("licensed_states", ["CA", "CA"]), ("phone", "555"), ("name", 42),
])
def test_bad_provider_values_are_422_naming_the_field(api, field, value):
    assert_error(api.post("/providers", json=provider_body(**{field: value})), 422,
                 fields=(field,))


@pytest.mark.parametrize("overrides, field", [
    ({"weekday": "funday"}, "weekday"),
    ({"weekday": 1}, "weekday"),
    ({"start_time": "8am"}, "start_time"),
    ({"end_time": "24:30"}, "end_time"),
    ({"start_time": "12:00", "end_time": "08:00"}, "end_time"),
    ({"start_time": "12:00", "end_time": "12:00"}, "end_time"),
    ({"valid_from": "2030-06-01", "valid_until": "2030-05-01"}, "valid_until"),
    ({"valid_from": "June"}, "valid_from"),
    ({"location_id": "one"}, "location_id"),
    ({"location_id": 424242}, "location_id"),
    ({"provider_id": 5}, "provider_id"),
])
def test_bad_rule_values_are_422_naming_the_field(api, location, provider, overrides, field):
    response = api.post(f"/providers/{provider['id']}/availability",
                        json=rule_body(location["id"], **overrides))
    assert_error(response, 422, fields=(field,))
    assert api.get(f"/providers/{provider['id']}/availability").get_json()["items"] == []


def test_rule_missing_fields_are_each_named(api, provider):
    assert_error(api.post(f"/providers/{provider['id']}/availability", json={}), 422,
                 fields=("location_id", "weekday", "start_time", "end_time"))


@pytest.mark.parametrize("body, field", [
    ({"start": "2030-02-01T09:00:00", "end": "2030-02-01T12:00:00-08:00"}, "start"),
    ({"start": "2030-02-01T09:00:00-08:00", "end": "2030-02-01T12:00:00"}, "end"),
    ({"start": "2030-02-01T12:00:00-08:00", "end": "2030-02-01T09:00:00-08:00"}, "end"),
    ({"start": "2030-02-01T09:00:00-08:00", "end": "2030-02-01T09:00:00-08:00"}, "end"),
    ({"start": "tomorrow", "end": "2030-02-01T09:00:00-08:00"}, "start"),
    ({"start": "2030-02-01", "end": "2030-02-02"}, "start"),
    ({"start": "1850-01-01T00:00:00Z", "end": "2030-02-01T09:00:00Z"}, "start"),
    ({"end": "2030-02-01T09:00:00Z"}, "start"),
])
def test_bad_time_off_is_422_naming_the_field(api, provider, body, field):
    response = api.post(f"/providers/{provider['id']}/time-off", json=body)
    assert_error(response, 422, fields=(field,))
    assert api.get(f"/providers/{provider['id']}/time-off").get_json()["items"] == []


def test_patient_validation_names_every_bad_field(api):
    response = api.post("/patients", json={"name": "  ", "phone": "12345",
                                           "home_location_id": "x", "sms_consent": "sure",
                                           "date_of_birth": "1800-01-01"})
    assert_error(response, 422, fields=("name", "phone", "home_location_id", "sms_consent",
                                        "date_of_birth"))


def test_unknown_home_location_is_422_naming_it(api):
    response = api.post("/patients", json={"name": "Jordan", "phone": "+18055550123",
                                           "home_location_id": 424242})
    assert_error(response, 422, fields=("home_location_id",))
    assert api.get("/patients").get_json()["items"] == []


def test_patching_to_an_unknown_home_location_is_422(api, location):
    pat = api.post("/patients", json={"name": "Jordan", "phone": "+18055550123",
                                      "home_location_id": location["id"]}).get_json()
    response = api.patch(f"/patients/{pat['id']}", json={"home_location_id": 424242})
    assert_error(response, 422, fields=("home_location_id",))
    assert api.get(f"/patients/{pat['id']}").get_json()["home_location_id"] == location["id"]


# Phones -------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, e164", [
    ("(805) 555-0123", "+18055550123"),
    ("805.555.0123", "+18055550123"),
    ("+1 805 555 0123", "+18055550123"),
    ("+44 20 7946 0958", "+442079460958"),
])
def test_phone_numbers_are_stored_in_e164(api, location, raw, e164):
    created = api.post("/patients", json={"name": "Jordan", "phone": raw,
                                          "home_location_id": location["id"]})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["phone"] == e164
    assert db.session.get(Patient, created.get_json()["id"]).phone == e164


@pytest.mark.parametrize("raw", ["555-0123", "+1 555 000", "call me", "+999 1234567",
                                 "8" * 50, "+18055550123x" * 5])
def test_invalid_phone_numbers_are_422(api, location, raw):
    response = api.post("/patients", json={"name": "Jordan", "phone": raw,
                                           "home_location_id": location["id"]})
    assert_error(response, 422, fields=("phone",))


# Malformed and oversized bodies ---------------------------------------------------------

def test_malformed_json_is_400(api):
    response = api.post("/locations", data='{"name": "Santa Barbara",',
                        headers={"Content-Type": "application/json"})
    assert_error(response, 400, "malformed_json")


def test_body_over_one_megabyte_is_413_in_the_error_format(api):
    body = '{"name": "' + "x" * (1024 * 1024) + '"}'
    response = api.post("/locations", data=body, headers={"Content-Type": "application/json"})
    assert response.mimetype == "application/json"
    assert_error(response, 413, "payload_too_large")
    assert api.get("/locations").get_json()["items"] == []


@pytest.mark.parametrize("body", ["[1, 2]", "null", '"text"', "42"])
def test_json_that_is_not_an_object_is_422(api, body):
    response = api.post("/locations", data=body, headers={"Content-Type": "application/json"})
    assert_error(response, 422)


# Pagination ---------------------------------------------------------------------------

def test_pagination_walks_every_patient_once(api, location):
    made = {api.post("/patients", json={"name": f"Patient {i}", "phone": f"+1805555020{i}",
                                        "home_location_id": location["id"]}).get_json()["id"]
            for i in range(5)}
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/patients", query_string=query)
        assert page.status_code == 200
        body = page.get_json()
        assert set(body) == {"items", "next_cursor"}
        assert len(body["items"]) <= 2
        seen += [p["id"] for p in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert pages < 10
    assert pages == 3
    assert len(seen) == len(set(seen)) == 5 and set(seen) == made
    assert seen == sorted(seen)


def test_exactly_full_last_page_has_no_next_cursor(api, location):
    for i in range(2):
        api.post("/patients", json={"name": f"P{i}", "phone": f"+1805555030{i}",
                                    "home_location_id": location["id"]})
    assert api.get("/patients?limit=2").get_json()["next_cursor"] is None


@pytest.mark.parametrize("cursor", ["garbage!", "aWQ6eA", "Zm9vOjE", "x" * 150, "%%%"])
def test_bad_cursor_is_422_naming_cursor(api, cursor):
    assert_error(api.get("/patients", query_string={"cursor": cursor}), 422, fields=("cursor",))


@pytest.mark.parametrize("limit", ["0", "1000", "-1", "two", "2.5"])
def test_bad_limit_is_422_naming_limit(api, limit):
    assert_error(api.get("/locations", query_string={"limit": limit}), 422, fields=("limit",))


# ETags, If-Match, If-None-Match ----------------------------------------------------------

def test_stale_if_match_is_412_and_changes_nothing(api, location):
    path = f"/locations/{location['id']}"
    first = api.patch(path, json={"name": "First edit"})
    assert first.status_code == 200
    before = audit_count()

    stale = api.patch(path, json={"name": "Lost update"},
                      headers={"If-Match": f'"locations-{location["id"]}-v1"'})

    assert_error(stale, 412, "precondition_failed")
    got = api.get(path).get_json()
    assert got["name"] == "First edit" and got["version"] == 2
    assert audit_count() == before


def test_current_if_match_is_accepted(api, location):
    path = f"/locations/{location['id']}"
    etag = api.get(path).headers["ETag"]
    response = api.patch(path, json={"name": "Renamed"}, headers={"If-Match": etag})
    assert response.status_code == 200 and response.get_json()["version"] == 2
    assert response.headers["ETag"] != etag


@pytest.mark.parametrize("header", ["garbage", '"patients-1-v1"', '"locations-999-v1"'])
def test_if_match_naming_something_else_is_412(api, location, header):
    response = api.patch(f"/locations/{location['id']}", json={"name": "X"},
                         headers={"If-Match": header})
    assert_error(response, 412)
    assert api.get(f"/locations/{location['id']}").get_json()["name"] == "Santa Barbara"


def test_if_match_star_or_any_matching_tag_is_accepted(api, location):
    path = f"/locations/{location['id']}"
    assert api.patch(path, json={"name": "A"}, headers={"If-Match": "*"}).status_code == 200
    response = api.patch(path, json={"name": "B"},
                         headers={"If-Match": f'"x", "locations-{location["id"]}-v2"'})
    assert response.status_code == 200


@pytest.mark.parametrize("kind", ["rooms", "providers", "patients", "session-types"])
def test_stale_if_match_is_refused_on_every_patchable_resource(api, location, kind):
    if kind == "rooms":
        obj = api.post(f"/locations/{location['id']}/rooms",
                       json={"name": "Chair 1", "kind": "treatment"}).get_json()
        path, change = f"/rooms/{obj['id']}", {"name": "Chair 9"}
    elif kind == "providers":
        obj = api.post("/providers", json=provider_body()).get_json()
        path, change = f"/providers/{obj['id']}", {"name": "Dr. Renamed"}
    elif kind == "patients":
        obj = api.post("/patients", json={"name": "Jordan", "phone": "+18055550123",
                                          "home_location_id": location["id"]}).get_json()
        path, change = f"/patients/{obj['id']}", {"name": "Renamed"}
    else:
        path, change = "/session-types/integration", {"name": "Renamed"}
    etag = api.get(path).headers["ETag"]
    assert api.patch(path, json=change, headers={"If-Match": etag}).status_code == 200
    again = api.patch(path, json={"name": "Second"}, headers={"If-Match": etag})
    assert_error(again, 412, "precondition_failed")
    assert api.get(path).get_json()["name"] == change["name"]


def test_if_none_match_of_the_current_etag_is_304(api, location):
    path = f"/locations/{location['id']}"
    etag = api.get(path).headers["ETag"]
    not_modified = api.get(path, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.data == b""

    api.patch(path, json={"name": "Renamed"})
    changed = api.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.get_json()["name"] == "Renamed"


def test_lists_carry_an_etag_that_changes_with_their_content(api, location):
    first = api.get("/locations")
    assert first.headers.get("ETag")
    assert api.get("/locations", headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    api.patch(f"/locations/{location['id']}", json={"name": "Renamed"})
    assert api.get("/locations", headers={"If-None-Match": first.headers["ETag"]}).status_code == 200


# Clinical and licensing rules -------------------------------------------------------------

def test_rems_session_type_cannot_monitor_under_two_hours(api):
    before = api.get("/session-types/esketamine_nasal").get_json()
    response = api.patch("/session-types/esketamine_nasal", json={"monitoring_minutes": 90})
    assert_error(response, 422, "rems_minimum", fields=("monitoring_minutes",))
    assert api.get("/session-types/esketamine_nasal").get_json() == before
    assert audit_count() == 0


def test_rems_flag_cannot_be_set_on_a_short_monitoring_type(api):
    response = api.patch("/session-types/ketamine_iv", json={"rems": True})
    assert_error(response, 422, "rems_minimum")
    assert api.get("/session-types/ketamine_iv").get_json()["rems"] is False


def test_rems_type_may_monitor_longer(api):
    response = api.patch("/session-types/esketamine_nasal", json={"monitoring_minutes": 150})
    assert response.status_code == 200 and response.get_json()["monitoring_minutes"] == 150


def test_dosing_is_never_by_telehealth_or_in_a_therapy_room(api):
    assert_error(api.patch("/session-types/ketamine_im", json={"telehealth_allowed": True}), 422,
                 fields=("telehealth_allowed",))
    assert_error(api.patch("/session-types/ketamine_im", json={"room_kind": "therapy"}), 422,
                 fields=("room_kind",))


def test_rule_where_the_provider_holds_no_licence_is_refused(api, oregon, provider):
    response = api.post(f"/providers/{provider['id']}/availability", json=rule_body(oregon["id"]))
    assert_error(response, 422, "license", fields=("location_id",))
    assert api.get(f"/providers/{provider['id']}/availability").get_json()["items"] == []


def test_overlapping_rule_at_another_location_is_a_conflict(api, location):
    pasadena = api.post("/locations", json=location_body(
        name="Pasadena", slug="pasadena", phone="+16265550100")).get_json()
    prov = api.post("/providers", json=provider_body()).get_json()
    path = f"/providers/{prov['id']}/availability"
    assert api.post(path, json=rule_body(location["id"])).status_code == 201

    clash = api.post(path, json=rule_body(pasadena["id"], start_time="11:00", end_time="15:00"))

    assert_error(clash, 409, "rule_overlap")
    assert len(api.get(path).get_json()["items"]) == 1


def test_adjacent_or_other_day_rules_do_not_overlap(api, location):
    prov = api.post("/providers", json=provider_body()).get_json()
    path = f"/providers/{prov['id']}/availability"
    assert api.post(path, json=rule_body(location["id"])).status_code == 201
    assert api.post(path, json=rule_body(location["id"], start_time="12:00",
                                         end_time="17:00")).status_code == 201
    assert api.post(path, json=rule_body(location["id"], weekday="tue")).status_code == 201


def test_rules_with_disjoint_validity_do_not_overlap(api, location):
    prov = api.post("/providers", json=provider_body()).get_json()
    path = f"/providers/{prov['id']}/availability"
    assert api.post(path, json=rule_body(location["id"], valid_until="2030-03-31")).status_code == 201
    assert api.post(path, json=rule_body(location["id"], valid_from="2030-04-01")).status_code == 201
    clash = api.post(path, json=rule_body(location["id"], valid_from="2030-03-15",
                                          valid_until="2030-03-20"))
    assert_error(clash, 409, "rule_overlap")


def test_another_provider_may_work_the_same_hours(api, location, provider):
    other = api.post("/providers", json=provider_body(name="Dr. Ortiz")).get_json()
    assert api.post(f"/providers/{provider['id']}/availability",
                    json=rule_body(location["id"])).status_code == 201
    assert api.post(f"/providers/{other['id']}/availability",
                    json=rule_body(location["id"])).status_code == 201


def test_dropping_a_licence_still_used_by_a_rule_is_refused(api, location, oregon):
    prov = api.post("/providers", json=provider_body(licensed_states=["CA", "OR"])).get_json()
    api.post(f"/providers/{prov['id']}/availability", json=rule_body(oregon["id"]))

    response = api.patch(f"/providers/{prov['id']}", json={"licensed_states": ["CA"]})

    assert_error(response, 422, "license", fields=("licensed_states",))
    got = api.get(f"/providers/{prov['id']}").get_json()
    assert got["licensed_states"] == ["CA", "OR"] and got["version"] == 1


def test_dropping_an_unused_licence_is_allowed(api, location):
    prov = api.post("/providers", json=provider_body(licensed_states=["CA", "OR"])).get_json()
    api.post(f"/providers/{prov['id']}/availability", json=rule_body(location["id"]))
    response = api.patch(f"/providers/{prov['id']}", json={"licensed_states": ["CA"]})
    assert response.status_code == 200 and response.get_json()["licensed_states"] == ["CA"]


# Read-only fields -----------------------------------------------------------------------

def test_sms_opted_out_cannot_be_set_through_the_api(api, location):
    response = api.post("/patients", json={"name": "Jordan", "phone": "+18055550123",
                                           "home_location_id": location["id"],
                                           "sms_opted_out": True})
    assert_error(response, 422, fields=("sms_opted_out",))
    assert api.get("/patients").get_json()["items"] == []

    pat = api.post("/patients", json={"name": "Jordan", "phone": "+18055550123",
                                      "home_location_id": location["id"]}).get_json()
    for value in (True, False):
        patched = api.patch(f"/patients/{pat['id']}", json={"sms_opted_out": value})
        assert_error(patched, 422, fields=("sms_opted_out",))
    stored = db.session.get(Patient, pat["id"])
    assert stored.sms_opted_out is False and stored.version == 1


@pytest.mark.parametrize("field", ["id", "version"])
def test_id_and_version_are_read_only(api, location, field):
    response = api.patch(f"/locations/{location['id']}", json={field: 99})
    assert_error(response, 422, fields=(field,))
    assert db.session.get(Location, location["id"]).version == 1
