"""The ride lifecycle: confirmation rounds, the provider's ride, tombstones, pending provider requests, the at-risk
schedule and the webhooks already applied.

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

RIDE_COLUMNS = (
    ("session_starts_at", UtcDateTime),
    ("confirmed_at", UtcDateTime),
    ("declined_at", UtcDateTime),
    ("completed_at", UtcDateTime),
    ("provider_ride_id", sa.String(64)),
    ("provider_status", sa.String(32)),
)


def upgrade() -> None:
    with op.batch_alter_table("rides") as batch:
        batch.add_column(sa.Column("round", sa.Integer, nullable=False, server_default="1"))
        for name, type_ in RIDE_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
    op.create_table(
        "tombstones",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("recorded_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "provider_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ride_id", sa.String(36), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("next_attempt_at", UtcDateTime, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("claimed_until", UtcDateTime, nullable=True),
        sa.Column("done_at", UtcDateTime, nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("last_error", sa.String(200), nullable=True),
    )
    op.create_index("ix_provider_requests_pending", "provider_requests", ["done_at", "next_attempt_at"])
    op.create_index("ix_provider_requests_ride", "provider_requests", ["ride_id"])
    op.create_table(
        "at_risk_checks",
        sa.Column("ride_id", sa.String(36), primary_key=True),
        sa.Column("round", sa.Integer, primary_key=True),
        sa.Column("threshold", sa.String(16), primary_key=True),
        sa.Column("due_at", UtcDateTime, nullable=False),
        sa.Column("checked_at", UtcDateTime, nullable=True),
        sa.Column("fired", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_at_risk_checks_due", "at_risk_checks", ["checked_at", "due_at"])
    op.create_table(
        "webhook_notices",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("ride_id", sa.String(64), nullable=True),
        sa.Column("received_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("webhook_notices")
    op.drop_index("ix_at_risk_checks_due", "at_risk_checks")
    op.drop_table("at_risk_checks")
    op.drop_index("ix_provider_requests_ride", "provider_requests")
    op.drop_index("ix_provider_requests_pending", "provider_requests")
    op.drop_table("provider_requests")
    op.drop_table("tombstones")
    with op.batch_alter_table("rides") as batch:
        for name, _ in reversed(RIDE_COLUMNS):
            batch.drop_column(name)
        batch.drop_column("round")
