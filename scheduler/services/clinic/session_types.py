"""Session types: the defaults of PRODUCT.md, and the rules an admin's edit must keep."""
from sqlalchemy import select

from ...domain.errors import Invalid, NotFound
from ...domain.instructions import validate_instruction_rules
from ...extensions import db
from ...models import SessionType
from ..platform import records

REMS_MINIMUM_MONITORING = 120


def session_type(code: str) -> SessionType:
    row = db.session.scalar(select(SessionType).where(SessionType.code == code))
    if row is None:
        raise NotFound(f"No session type with code {code[:60]!r}.")
    return row


def check_session_type(current: SessionType, values: dict) -> None:
    rems = values.get("rems", current.rems)
    monitoring = values.get("monitoring_minutes", current.monitoring_minutes)
    if rems and monitoring < REMS_MINIMUM_MONITORING:
        raise Invalid("A REMS session type monitors for at least 120 minutes (FDA REMS).",
                      code="rems_minimum",
                      errors={"monitoring_minutes": ["At least 120 for a REMS session type."]})
    category = current.category
    if category == "dosing" and values.get("room_kind", current.room_kind) != "treatment":
        raise Invalid("Dosing happens in a treatment room.", errors={"room_kind": ["Must be treatment."]})
    if category == "dosing" and values.get("telehealth_allowed"):
        raise Invalid("Dosing is never by telehealth.",
                      errors={"telehealth_allowed": ["Dosing needs a monitored chair."]})
    if "instructions" in values:
        problems = validate_instruction_rules(values["instructions"])
        if problems:
            raise Invalid("Unknown or invalid instruction rules.", errors={"instructions": problems})


def update_session_type(code: str, values: dict, actor: str, expected_version: int | None):
    current = session_type(code)
    return records.update(SessionType, current.id, values, actor, expected_version,
                          check=check_session_type)


DEFAULT_SESSION_TYPES = [
    dict(code="ketamine_iv", name="IV ketamine infusion", category="dosing",
         administering_minutes=40, monitoring_minutes=60, room_kind="treatment",
         provider_capabilities=["nurse", "prescriber"],
         instructions={"no_solid_food_hours": 6, "clear_liquids_until_hours": 2},
         checkpoints=[{"label": "Blood pressure and pulse before dosing", "anchor": "start", "offset_minutes": 0},
                      {"label": "Blood pressure", "anchor": "start", "offset_minutes": 40},
                      {"label": "Discharge check", "anchor": "end", "offset_minutes": -10}]),
    dict(code="ketamine_im", name="Intramuscular ketamine", category="dosing",
         administering_minutes=15, monitoring_minutes=60, room_kind="treatment",
         provider_capabilities=["nurse", "prescriber"],
         instructions={"no_solid_food_hours": 6, "clear_liquids_until_hours": 2},
         checkpoints=[{"label": "Blood pressure and pulse before dosing", "anchor": "start", "offset_minutes": 0},
                      {"label": "Blood pressure", "anchor": "start", "offset_minutes": 40},
                      {"label": "Discharge check", "anchor": "end", "offset_minutes": -10}]),
    dict(code="ketamine_sublingual", name="In-office sublingual ketamine", category="dosing",
         administering_minutes=30, monitoring_minutes=120, room_kind="treatment",
         provider_capabilities=["prescriber"],
         instructions={"no_solid_food_hours": 4, "clear_liquids_until_hours": 1},
         checkpoints=[{"label": "Blood pressure before dosing", "anchor": "start", "offset_minutes": 0},
                      {"label": "Blood pressure", "anchor": "start", "offset_minutes": 60},
                      {"label": "Discharge check", "anchor": "end", "offset_minutes": -10}]),
    dict(code="esketamine_nasal", name="Esketamine nasal spray (REMS)", category="dosing",
         administering_minutes=15, monitoring_minutes=120, room_kind="treatment", rems=True,
         provider_capabilities=["prescriber", "nurse"],
         instructions={"no_food_hours": 2, "no_liquids_minutes": 30},
         checkpoints=[{"label": "Blood pressure before dosing", "anchor": "start", "offset_minutes": 0},
                      {"label": "Blood pressure (about 40 min after dosing)", "anchor": "start", "offset_minutes": 40},
                      {"label": "Blood pressure before discharge", "anchor": "end", "offset_minutes": -5}]),
    dict(code="integration", name="Integration psychotherapy", category="integration",
         administering_minutes=50, monitoring_minutes=0, room_kind="therapy",
         telehealth_allowed=True, provider_capabilities=["therapist"], follow_window_hours=72),
    dict(code="consultation", name="Psychiatric evaluation", category="consultation",
         administering_minutes=60, monitoring_minutes=0, room_kind="therapy",
         telehealth_allowed=True, provider_capabilities=["prescriber"]),
]


def seed_session_types() -> int:
    """Insert the defaults that are missing; never overwrite an admin's edits."""
    existing = set(db.session.scalars(select(SessionType.code)))
    added = 0
    for values in DEFAULT_SESSION_TYPES:
        if values["code"] not in existing:
            db.session.add(SessionType(**values))
            added += 1
    return added
