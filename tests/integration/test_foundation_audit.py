"""The audit log: every change records who made it and the row before and after, in the
same transaction; refused requests leave no trace; secrets never reach it."""
import json

from sqlalchemy import select, text

from scheduler.extensions import db
from scheduler.models import AuditEntry

LOCATION = {"name": "Santa Barbara", "slug": "santa-barbara", "timezone": "America/Los_Angeles",
            "state": "CA", "phone": "+18055550100", "sms_display_name": "SB Clinic"}


def entries():
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def test_creating_a_location_records_who_and_what(api):
    loc = api.post("/locations", json=LOCATION, headers={"X-Request-Id": "req-create-1"}).get_json()

    [entry] = entries()
    assert entry.actor == "admin test key"
    assert entry.action == "create"
    assert (entry.entity_type, entry.entity_id) == ("locations", loc["id"])
    assert entry.before is None
    assert entry.after["name"] == "Santa Barbara" and entry.after["slug"] == "santa-barbara"
    assert entry.after["version"] == 1 and entry.after["id"] == loc["id"]
    assert entry.request_id == "req-create-1"
    assert entry.at is not None and entry.at.tzinfo is not None


def test_patching_a_location_records_before_and_after(api):
    loc = api.post("/locations", json=LOCATION).get_json()
    api.patch(f"/locations/{loc['id']}", json={"name": "SB Downtown", "monitoring_ratio": 4})

    create, update = entries()
    assert create.action == "create"
    assert update.actor == "admin test key"
    assert update.action == "update"
    assert (update.entity_type, update.entity_id) == ("locations", loc["id"])
    assert update.before["name"] == "Santa Barbara" and update.before["version"] == 1
    assert update.before["monitoring_ratio"] == 3
    assert update.after["name"] == "SB Downtown" and update.after["version"] == 2
    assert update.after["monitoring_ratio"] == 4


def test_actor_is_the_name_of_the_key_that_made_the_change(api):
    loc = api.post("/locations", json=LOCATION).get_json()
    api.post("/patients", as_="front_desk", json={"name": "Jordan Ellis", "phone": "+18055550111",
                                                  "home_location_id": loc["id"]})
    actors = {(e.entity_type, e.actor) for e in entries()}
    assert actors == {("locations", "admin test key"), ("patients", "front_desk test key")}


def test_a_patch_that_changes_nothing_records_nothing(api):
    loc = api.post("/locations", json=LOCATION).get_json()
    api.patch(f"/locations/{loc['id']}", json={"name": "Santa Barbara"})
    assert [e.action for e in entries()] == ["create"]


def test_deletes_record_the_row_that_was_removed(api):
    loc = api.post("/locations", json=LOCATION).get_json()
    prov = api.post("/providers", json={"name": "Dr. Chen", "capabilities": ["prescriber"],
                                        "licensed_states": ["CA"]}).get_json()
    rule = api.post(f"/providers/{prov['id']}/availability", json={
        "location_id": loc["id"], "weekday": "mon", "start_time": "08:00",
        "end_time": "12:00"}).get_json()
    api.delete(f"/providers/{prov['id']}/availability/{rule['id']}")

    delete = entries()[-1]
    assert delete.action == "delete"
    assert (delete.entity_type, delete.entity_id) == ("availability_rules", rule["id"])
    assert delete.before["location_id"] == loc["id"] and delete.before["start_time"] == "08:00:00"


def test_failed_requests_write_no_audit_rows(api):
    loc = api.post("/locations", json=LOCATION).get_json()
    etag = api.get(f"/locations/{loc['id']}").headers["ETag"]
    api.patch(f"/locations/{loc['id']}", json={"name": "Edited"}, headers={"If-Match": etag})
    before = len(entries())

    refused = [
        api.post("/locations", json={**LOCATION, "timezone": "Mars/Base"}),             # 422
        api.patch(f"/locations/{loc['id']}", json={"state": "ZZ"}),                    # 422
        api.patch(f"/locations/{loc['id']}", json={"name": "Stale"},
                  headers={"If-Match": etag}),                                          # 412
        api.post("/locations", json=LOCATION),                                          # 409
        api.patch("/session-types/esketamine_nasal", json={"monitoring_minutes": 60}),  # 422
        api.post("/patients", json={"name": "X", "phone": "+18055550111",
                                    "home_location_id": 424242}),                       # 422
        api.patch(f"/locations/{loc['id']}", as_="front_desk", json={"name": "No"}),   # 403
    ]

    assert [r.status_code for r in refused] == [422, 422, 412, 409, 422, 422, 403]
    assert len(entries()) == before


def test_key_hashes_and_plaintext_keys_never_appear_in_the_audit_log(api, keys):
    loc = api.post("/locations", json=LOCATION).get_json()
    api.patch(f"/locations/{loc['id']}", json={"name": "SB"})
    api.post("/patients", as_="front_desk", json={"name": "Jordan", "phone": "+18055550111",
                                                  "home_location_id": loc["id"]})
    with db.engine.connect() as conn:
        hashes = [row.key_hash for row in conn.execute(text("SELECT key_hash FROM api_keys"))]
        audit = conn.execute(text("SELECT * FROM audit_log")).all()
    assert len(hashes) == 3 and len(audit) == 3
    dump = json.dumps([[str(v) for v in row] for row in audit])
    for secret in hashes + list(keys.values()):
        assert secret not in dump
