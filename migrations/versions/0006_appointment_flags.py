"""appointment flags: what is wrong with an appointment now, one row per (appointment, code);
the calendar import's conflict columns become `external_busy` flags

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# As the calendar import wrote it when this revision was made.
BUSY_MESSAGE = "The provider's own calendar shows them busy."
OLD_KIND, NEW_KIND = "appointment.conflict", "appointment.flagged"


def upgrade():
    op.create_table(
        "appointment_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("message", sa.String(length=300), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["appointment_id"], ["appointments.id"],
                                name=op.f("fk_appointment_flags_appointment_id_appointments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment_flags")),
        sa.UniqueConstraint("appointment_id", "code", name=op.f("uq_appointment_flags_appointment_id_code")),
    )
    with op.batch_alter_table("appointment_flags", schema=None) as batch_op:
        batch_op.create_index("ix_appointment_flags_code", ["code"], unique=False)

    op.execute(sa.text(
        "INSERT INTO appointment_flags (appointment_id, code, message, since) "
        "SELECT id, 'external_busy', COALESCE(conflict_reason, :message), updated_at "
        "FROM appointments WHERE conflict").bindparams(message=BUSY_MESSAGE))
    # Plain ALTER TABLE (SQLite >= 3.35): a batch copy of appointments would have to drop a
    # table other tables reference.
    op.drop_column("appointments", "conflict_reason")
    op.drop_column("appointments", "conflict")
    _rename_event(OLD_KIND, NEW_KIND)


def downgrade():
    op.add_column("appointments", sa.Column("conflict", sa.Boolean(), nullable=False,
                                            server_default=sa.false()))
    op.add_column("appointments", sa.Column("conflict_reason", sa.String(length=300), nullable=True))
    op.execute(sa.text(
        "UPDATE appointments SET conflict = :yes, conflict_reason = (SELECT message FROM appointment_flags f "
        "WHERE f.appointment_id = appointments.id AND f.code = 'external_busy') "
        "WHERE id IN (SELECT appointment_id FROM appointment_flags WHERE code = 'external_busy')")
        .bindparams(sa.bindparam("yes", True, sa.Boolean())))
    with op.batch_alter_table("appointment_flags", schema=None) as batch_op:
        batch_op.drop_index("ix_appointment_flags_code")
    op.drop_table("appointment_flags")
    _rename_event(NEW_KIND, OLD_KIND)


def _rename_event(old: str, new: str) -> None:
    """Webhook subscriptions that asked for the old change kind get the new one."""
    table = sa.table("webhook_subscriptions", sa.column("id", sa.Integer), sa.column("events", sa.JSON))
    conn = op.get_bind()
    for sub_id, events in conn.execute(sa.select(table.c.id, table.c.events)).all():
        if events and old in events:
            renamed = list(dict.fromkeys(new if e == old else e for e in events))
            conn.execute(table.update().where(table.c.id == sub_id).values(events=renamed))
