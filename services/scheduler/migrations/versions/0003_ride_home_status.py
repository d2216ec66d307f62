"""The ride home: a provider ride's drop-off address, the ride status transport reports, and a check-in override.

Plain ``add_column``: SQLite adds a nullable column in place, so the sessions table is not rebuilt and its
double-booking triggers (0002) stay as they are; a batch migration would recreate the table without them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from shared.persistence import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = (
    ("dropoff_address", sa.String(300)),
    ("ride_status", sa.String(16)),
    ("ride_status_at", UtcDateTime),
    ("check_in_override_reason", sa.String(300)),
)


def upgrade() -> None:
    for name, column_type in COLUMNS:
        op.add_column("sessions", sa.Column(name, column_type, nullable=True))


def downgrade() -> None:
    # SQLite (3.35 and later) drops a column in place too, keeping the triggers.
    for name, _ in reversed(COLUMNS):
        op.drop_column("sessions", name)
