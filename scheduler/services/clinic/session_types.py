"""Session types: the defaults of PRODUCT.md, lookups by code, an admin's edits (their
rules are domain/session_types.py's)."""
from sqlalchemy import select

from ...domain.errors import Invalid, NotFound
from ...domain.session_types import check_edit
from ...extensions import db
from ...models import SessionType
from ..platform import records
from ..platform.transaction import write_transaction


def session_type(code: str) -> SessionType:
    row = db.session.scalar(select(SessionType).where(SessionType.code == code))
    if row is None:
        raise NotFound(f"No session type with code {code[:60]!r}.")
    return row


def active_session_type(code: str) -> SessionType:
    """The session type a booking or a search names: unknown or retired is a 422."""
    st = db.session.scalar(select(SessionType).where(SessionType.code == code))
    if st is None or not st.active:
        raise Invalid(f"Unknown session type {code[:60]!r}.",
                      errors={"session_type": ["No active session type with this code."]})
    return st


def list_session_types(limit: int, after: int | None) -> records.Page:
    return records.page(SessionType, limit, after)


def update_session_type(code: str, values: dict, actor, expected_version: int | None) -> SessionType:
    with write_transaction():
        current = records.lock_current(SessionType, session_type(code).id, expected_version)
        check_edit(current.category, current.rems, current.monitoring_minutes, current.room_kind, values)
        return records.apply(current, values, actor)


def _dosing(code: str, name: str, administering: int, monitoring: int, capabilities: list[str],
            instructions: dict, checks, **extra) -> dict:
    return dict(code=code, name=name, category="dosing", administering_minutes=administering,
                monitoring_minutes=monitoring, room_kind="treatment", provider_capabilities=capabilities,
                instructions=dict(instructions),
                checkpoints=[{"label": label, "anchor": anchor, "offset_minutes": offset}
                             for label, anchor, offset in checks], **extra)


# IV and IM: a six-hour fast, blood pressure before and 40 minutes in.
INJECTED_FAST = {"no_solid_food_hours": 6, "clear_liquids_until_hours": 2}
INJECTED_CHECKS = (("Blood pressure and pulse before dosing", "start", 0), ("Blood pressure", "start", 40),
                   ("Discharge check", "end", -10))
DEFAULT_SESSION_TYPES = [
    _dosing("ketamine_iv", "IV ketamine infusion", 40, 60, ["nurse", "prescriber"],
            INJECTED_FAST, INJECTED_CHECKS),
    _dosing("ketamine_im", "Intramuscular ketamine", 15, 60, ["nurse", "prescriber"],
            INJECTED_FAST, INJECTED_CHECKS),
    _dosing("ketamine_sublingual", "In-office sublingual ketamine", 30, 120, ["prescriber"],
            {"no_solid_food_hours": 4, "clear_liquids_until_hours": 1},
            (("Blood pressure before dosing", "start", 0), ("Blood pressure", "start", 60),
             ("Discharge check", "end", -10))),
    _dosing("esketamine_nasal", "Esketamine nasal spray (REMS)", 15, 120, ["prescriber", "nurse"],
            {"no_food_hours": 2, "no_liquids_minutes": 30},
            (("Blood pressure before dosing", "start", 0),
             ("Blood pressure (about 40 min after dosing)", "start", 40),
             ("Blood pressure before discharge", "end", -5)), rems=True),
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
