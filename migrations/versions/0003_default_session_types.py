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


def upgrade():
    from scheduler.services.clinic.session_types import DEFAULT_SESSION_TYPES

    table = sa.table("session_types", *(sa.column(c, sa.JSON if c in (
        "provider_capabilities", "instructions", "checkpoints") else None) for c in COLUMNS))
    existing = {row[0] for row in op.get_bind().execute(sa.text("SELECT code FROM session_types"))}
    now = dt.datetime.now(dt.timezone.utc)
    rows = []
    for values in DEFAULT_SESSION_TYPES:
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
