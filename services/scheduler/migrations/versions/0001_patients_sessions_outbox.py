"""Patients, sessions, and the messaging tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from shared.persistence import UtcDateTime
from shared.persistence.messaging_tables import create_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "patients",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("preferred_channel", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("patient_id", sa.String(36), sa.ForeignKey("patients.id"), nullable=False),
        sa.Column("treatment_type", sa.String(64), nullable=False),
        sa.Column("chair_id", sa.String(64), nullable=False),
        sa.Column("starts_at", UtcDateTime, nullable=False),
        sa.Column("treatment_ends_at", UtcDateTime, nullable=False),
        sa.Column("recovery_ends_at", UtcDateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("ride_home_mode", sa.String(16), nullable=False),
        sa.Column("escort_name", sa.String(200), nullable=True),
        sa.Column("escort_phone", sa.String(32), nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("cancelled_at", UtcDateTime, nullable=True),
        sa.Column("cancel_reason", sa.Text, nullable=True),
    )
    op.create_index("ix_sessions_chair_time", "sessions", ["chair_id", "starts_at"])
    op.create_index("ix_sessions_patient", "sessions", ["patient_id"])
    create_messaging_tables()


def downgrade() -> None:
    op.drop_table("processed_events")
    op.drop_index("ix_outbox_unpublished", "outbox")
    op.drop_table("outbox")
    op.drop_index("ix_sessions_patient", "sessions")
    op.drop_index("ix_sessions_chair_time", "sessions")
    op.drop_table("sessions")
    op.drop_table("patients")
