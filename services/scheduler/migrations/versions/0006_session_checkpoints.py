"""The treatment day's safety gates: monitoring checkpoints marked done, the booked start kept when treatment starts
earlier or later, and the reasons a clinician gave to start or discharge past a gate.

Plain ``add_column`` (as in 0003): SQLite adds a nullable column in place, so the sessions table is not rebuilt and
its double-booking triggers (0002) stay as they are.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-12
"""

import sqlalchemy as sa
from alembic import op

from shared.persistence import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COLUMNS = (
    ("booked_starts_at", UtcDateTime),
    ("start_override_reason", sa.String(300)),
    ("discharge_override_reason", sa.String(300)),
)


def upgrade() -> None:
    op.create_table(
        "session_checkpoints",
        sa.Column("session_id", sa.String(36), sa.ForeignKey("sessions.id"), primary_key=True),
        sa.Column("checkpoint_id", sa.String(64), primary_key=True),
        sa.Column("done_at", UtcDateTime, nullable=False),
        sa.Column("done_by", sa.String(64), nullable=False),
    )
    for name, column_type in COLUMNS:
        op.add_column("sessions", sa.Column(name, column_type, nullable=True))


def downgrade() -> None:
    # SQLite (3.35 and later) drops a column in place too, keeping the triggers.
    for name, _ in reversed(COLUMNS):
        op.drop_column("sessions", name)
    op.drop_table("session_checkpoints")
