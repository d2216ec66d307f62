"""The patient's language and their opt-out of reminders, for notifications to read when it sends.

Plain ``add_column`` with server defaults: every patient registered before gets "en" and false, and SQLite adds a
NOT NULL column in place when it has a default, without rebuilding the table.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-09
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("patients", sa.Column("language", sa.String(8), nullable=False, server_default="en"))
    op.add_column("patients", sa.Column("reminders_opt_out", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    # SQLite (3.35 and later) drops a column in place too.
    op.drop_column("patients", "reminders_opt_out")
    op.drop_column("patients", "language")
