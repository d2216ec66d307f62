"""Rides: when a ride was dispatched (its status may now also be ``dispatched``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from shared.persistence import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("rides", sa.Column("dispatched_at", UtcDateTime, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rides") as batch:
        batch.drop_column("dispatched_at")
