"""Templates are data per session type and location; one naming the treatment is refused."""
import pytest

from scheduler.extensions import db
from scheduler.models import Message
from tests.support import clinic as c


@pytest.fixture
def site(app):
    loc = c.location()
    c.rooms(loc, "treatment", 1)
    c.rooms(loc, "therapy", 1)
    c.provider("Dr P", ["prescriber"], at=loc)
    c.provider("RN N", ["nurse"], at=loc)
    c.provider("T T", ["therapist"], at=loc)
    patient = c.patient(loc)
    c.commit()
    return loc, patient


@pytest.mark.parametrize("body", [
    "{clinic}: your ketamine visit {date} at {time}. {phone}",
    "{clinic}: your SPRAVATO visit {date} at {time}. {phone}",
    "{clinic}: infusion on {date} at {time}. {phone}",
])
def test_a_template_naming_the_treatment_is_refused(api, site, body):
    response = api.post("/message-templates", json={"kind": "reminder", "body": body})
    assert response.status_code == 422
    assert response.json["code"] == "template_names_treatment"
    assert "body" in response.json["errors"]
    assert api.get("/message-templates").json["items"] == []


def test_unknown_placeholder_and_missing_date_are_refused(api, site):
    unknown = api.post("/message-templates", json={"kind": "reminder", "body": "{clinic} {date} {time} {patient}"})
    assert unknown.status_code == 422 and unknown.json["code"] == "template_unknown_placeholder"
    missing = api.post("/message-templates", json={"kind": "reminder", "body": "{clinic}: see you soon"})
    assert missing.status_code == 422 and missing.json["code"] == "template_missing_placeholder"


def test_the_most_specific_template_words_the_text(api, site):
    loc, patient = site
    general = api.post("/message-templates", json={
        "kind": "confirmation", "body": "GENERAL {clinic} {date} {time} {phone}. Reply STOP to opt out."})
    assert general.status_code == 201, general.json
    specific = api.post("/message-templates", json={
        "kind": "confirmation", "location_id": loc.id, "session_type_id": 5,
        "body": "TALK {clinic} {date} {time} {address} {phone}. Reply STOP to opt out."})
    assert specific.status_code == 201, specific.json
    booked_integration = api.post("/appointments", json={
        "patient_id": patient.id, "session_type": "integration", "location_id": loc.id,
        "start": c.local("2030-01-07", "09:00")})
    assert booked_integration.status_code == 201, booked_integration.json
    booked_dosing = api.post("/appointments", json={
        "patient_id": patient.id, "session_type": "ketamine_im", "location_id": loc.id,
        "start": c.local("2030-01-08", "09:00")})
    assert booked_dosing.status_code == 201, booked_dosing.json
    bodies = {m.appointment_id: m.body for m in db.session.query(Message).filter_by(kind="confirmation")}
    assert bodies[booked_integration.json["id"]].startswith("TALK ")
    assert bodies[booked_dosing.json["id"]].startswith("GENERAL ")


def test_duplicate_scope_is_a_conflict_and_patch_revalidates(api, site):
    body = {"kind": "reminder", "body": "{clinic}: {date} at {time}. {phone}"}
    first = api.post("/message-templates", json=body)
    assert first.status_code == 201
    assert api.post("/message-templates", json=body).json["code"] == "duplicate"
    refused = api.patch(f"/message-templates/{first.json['id']}", json={"body": "{clinic} esketamine {date} {time}"})
    assert refused.status_code == 422
    assert api.get("/message-templates").json["items"][0]["body"] == body["body"]


def test_front_desk_cannot_write_templates(api, site):
    response = api.post("/message-templates", as_="front_desk", json={"kind": "reminder", "body": "{clinic} {date} {time}"})
    assert response.status_code == 403


def test_a_clinic_name_that_names_the_treatment_is_refused(api, site):
    loc, _ = site
    response = api.patch(f"/locations/{loc.id}", json={"sms_display_name": "Ketamine Wellness"})
    assert response.status_code == 422
    assert response.json["code"] == "template_names_treatment"
    assert "sms_display_name" in response.json["errors"]
