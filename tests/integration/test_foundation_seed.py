"""`flask seed-demo`: the practice's three clinics and a realistic staff, safe to run twice,
and consistent with the rules the API enforces."""
from collections import Counter

import pytest
from sqlalchemy import func, select

from scheduler.domain.localtime import WEEKDAYS
from scheduler.extensions import db
from scheduler.models import AvailabilityRule, Location, Patient, Provider, Room, SessionType


def row_counts() -> dict:
    db.session.expire_all()
    return {table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in db.metadata.sorted_tables}


@pytest.fixture
def seeded(app):
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    return result


def test_seed_creates_the_three_clinics(seeded):
    locations = {loc.name: loc for loc in db.session.scalars(select(Location))}
    assert set(locations) == {"Santa Barbara", "Pasadena", "Portland"}
    assert {name: loc.state for name, loc in locations.items()} == {
        "Santa Barbara": "CA", "Pasadena": "CA", "Portland": "OR"}
    assert {loc.timezone for loc in locations.values()} == {"America/Los_Angeles"}
    for loc in locations.values():
        assert loc.phone.startswith("+1") and loc.sms_display_name and loc.opening_hours


def test_every_clinic_has_treatment_chairs_and_therapy_offices(seeded):
    kinds = Counter((room.location.name, room.kind) for room in db.session.scalars(select(Room)))
    for clinic in ("Santa Barbara", "Pasadena", "Portland"):
        assert kinds[(clinic, "treatment")] >= 2
        assert kinds[(clinic, "therapy")] >= 1


def test_staff_covers_every_capability_and_both_states(seeded):
    providers = list(db.session.scalars(select(Provider)))
    capabilities = Counter(c for p in providers for c in p.capabilities)
    assert {"prescriber", "nurse", "therapist"} <= set(capabilities)
    both = [p.name for p in providers if {"CA", "OR"} <= set(p.licensed_states)]
    assert len(both) >= 2
    # Every clinic can run every session type: some prescriber, nurse and therapist per state.
    for state in ("CA", "OR"):
        for capability in ("prescriber", "nurse", "therapist"):
            assert any(capability in p.capabilities and state in p.licensed_states
                       for p in providers), (state, capability)


def test_seeded_rules_keep_the_rules_the_api_enforces(seeded):
    rules = list(db.session.scalars(select(AvailabilityRule)))
    assert len(rules) >= 10
    by_slot = Counter()
    for rule in rules:
        location, provider = rule.location, rule.provider
        assert location.state in provider.licensed_states, (provider.name, location.name)
        day = WEEKDAYS[rule.weekday]
        spans = location.opening_hours.get(day)
        assert spans, f"{provider.name} works {day} at {location.name}, which is closed"
        assert any(open_ <= rule.start_time.strftime("%H:%M")
                   and rule.end_time.strftime("%H:%M") <= close for open_, close in spans)
        by_slot[(provider.id, rule.weekday)] += 1
    # One place per provider per weekday (the seeded hours are whole-day blocks).
    assert max(by_slot.values()) == 1


def test_seed_adds_patients_at_their_home_clinics(seeded):
    patients = list(db.session.scalars(select(Patient)))
    assert len(patients) >= 3
    assert {p.home_location.name for p in patients} >= {"Santa Barbara", "Pasadena", "Portland"}
    assert all(p.phone.startswith("+") and not p.sms_opted_out for p in patients)
    assert len({p.phone for p in patients}) == len(patients)


def test_seed_keeps_the_default_session_types(seeded):
    assert db.session.scalar(select(func.count()).select_from(SessionType)) == 6


def test_seed_reports_what_it_added(seeded):
    assert "3 locations" in seeded.output
    assert "nothing" not in seeded.output


def test_seeding_twice_adds_nothing(app, seeded):
    first = row_counts()

    again = app.test_cli_runner().invoke(args=["seed-demo"])

    assert again.exit_code == 0, again.output
    assert "nothing" in again.output
    assert row_counts() == first


def test_seed_keeps_an_admins_edits(app, seeded, api):
    santa_barbara = db.session.scalar(select(Location).where(Location.slug == "santa-barbara"))
    api.patch(f"/locations/{santa_barbara.id}", json={"monitoring_ratio": 5})

    app.test_cli_runner().invoke(args=["seed-demo"])

    assert api.get(f"/locations/{santa_barbara.id}").get_json()["monitoring_ratio"] == 5


def test_seeded_clinics_are_served_by_the_api(seeded, api):
    listed = api.get("/locations")
    assert listed.status_code == 200
    body = listed.get_json()
    assert sorted(loc["slug"] for loc in body["items"]) == ["pasadena", "portland", "santa-barbara"]
    assert body["next_cursor"] is None
    for loc in body["items"]:
        rooms = api.get(f"/locations/{loc['id']}/rooms").get_json()["items"]
        assert {r["kind"] for r in rooms} == {"treatment", "therapy"}
    assert len(api.get("/providers").get_json()["items"]) >= 6
