"""PostgreSQL refuses overlapping provider, room and patient ranges of occupying appointments

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

On SQLite writers are serialised instead (BEGIN IMMEDIATE), so nothing is needed there.
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

OCCUPYING = "status IN ('booked', 'checked-in', 'fulfilled')"
CONSTRAINTS = [
    ("ex_appointments_provider_overlap", "provider_id", "provider_busy_end", ""),
    ("ex_appointments_room_overlap", "room_id", "room_busy_end", " AND room_id IS NOT NULL"),
    ("ex_appointments_patient_overlap", "patient_id", "end_at", ""),
]


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    for name, column, end, extra in CONSTRAINTS:
        op.execute(
            f"ALTER TABLE appointments ADD CONSTRAINT {name} EXCLUDE USING gist "
            f"({column} WITH =, tstzrange(start_at, {end}, '[)') WITH &&) "
            f"WHERE ({OCCUPYING}{extra})")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, *_ in CONSTRAINTS:
        op.execute(f"ALTER TABLE appointments DROP CONSTRAINT IF EXISTS {name}")
