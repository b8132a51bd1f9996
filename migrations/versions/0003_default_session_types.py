"""seed the six default session types of PRODUCT.md (an admin edits them afterwards)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""
import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = ("code", "name", "category", "administering_minutes", "monitoring_minutes", "room_kind",
           "telehealth_allowed", "rems", "provider_capabilities", "min_notice_minutes",
           "follow_window_hours", "instructions", "checkpoints", "active", "created_at",
           "updated_at", "version")


# The defaults as they were when this revision was written: a copy, never an import of
# application code, so upgrading an old database gives the same rows whatever the
# application's defaults have become since.
SESSION_TYPES = [
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


def upgrade():
    table = sa.table("session_types", *(sa.column(c, sa.JSON if c in (
        "provider_capabilities", "instructions", "checkpoints") else None) for c in COLUMNS))
    existing = {row[0] for row in op.get_bind().execute(sa.text("SELECT code FROM session_types"))}
    now = dt.datetime.now(dt.timezone.utc)
    rows = []
    for values in SESSION_TYPES:
        if values["code"] in existing:
            continue
        row = {"telehealth_allowed": False, "rems": False, "min_notice_minutes": 120,
               "follow_window_hours": 72, "instructions": {}, "checkpoints": [], "active": True,
               "created_at": now, "updated_at": now, "version": 1}
        row.update({k: v for k, v in values.items() if k in COLUMNS})
        if op.get_bind().dialect.name == "sqlite":
            row["created_at"] = row["updated_at"] = now.replace(tzinfo=None)
        rows.append(row)
    if rows:
        op.bulk_insert(table, rows)


def downgrade():
    pass  # the rows may have been edited since; leave them
