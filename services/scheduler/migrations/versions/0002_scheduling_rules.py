"""Clinicians, turnover, the session lifecycle, intake, series and idempotency keys.

On PostgreSQL the rules that must hold under concurrent bookings are exclusion constraints (btree_gist):
no two holding sessions share a chair, a clinician or a patient at overlapping times.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

from shared.persistence import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

HOLDING = "status IN ('booked', 'checked_in', 'in_treatment', 'discharged')"
EXCLUSIONS = {
    "sessions_chair_not_double_booked": "chair_id WITH =, tstzrange(starts_at, chair_free_at) WITH &&",
    "sessions_clinician_not_double_booked": "clinician_id WITH =, tstzrange(starts_at, treatment_ends_at) WITH &&",
    "sessions_patient_not_double_booked": "patient_id WITH =, tstzrange(starts_at, recovery_ends_at) WITH &&",
}


def upgrade() -> None:
    op.create_table(
        "intake_assessments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("patient_id", sa.String(36), sa.ForeignKey("patients.id"), nullable=False),
        sa.Column("completed_at", UtcDateTime, nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("recorded_at", UtcDateTime, nullable=False),
        sa.Column("session_id", sa.String(36), nullable=True),
    )
    op.create_index("ix_intake_assessments_patient", "intake_assessments", ["patient_id"])
    op.create_table(
        "series",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("patient_id", sa.String(36), sa.ForeignKey("patients.id"), nullable=False),
        sa.Column("treatment_type", sa.String(64), nullable=False),
        sa.Column("session_count", sa.Integer, nullable=False),
        sa.Column("within_days", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("operation", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.String(36), nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("clinician_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("chair_free_at", UtcDateTime, nullable=True))
        batch.add_column(sa.Column("series_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("checked_in_at", UtcDateTime, nullable=True))
        batch.add_column(sa.Column("treatment_started_at", UtcDateTime, nullable=True))
        batch.add_column(sa.Column("discharged_at", UtcDateTime, nullable=True))
        batch.add_column(sa.Column("no_show_recorded_at", UtcDateTime, nullable=True))
        batch.add_column(sa.Column("cancel_note", sa.Text, nullable=True))
        batch.add_column(sa.Column("late_cancellation", sa.Boolean, nullable=True))
    # Sessions booked before turnover existed free their chair when recovery ends.
    op.execute("UPDATE sessions SET chair_free_at = recovery_ends_at")
    with op.batch_alter_table("sessions") as batch:
        batch.alter_column("chair_free_at", existing_type=UtcDateTime, nullable=False)
        batch.create_foreign_key("fk_sessions_series", "series", ["series_id"], ["id"])
    op.create_index("ix_sessions_starts_at", "sessions", ["starts_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public")
        for name, elements in EXCLUSIONS.items():
            op.execute(f"ALTER TABLE sessions ADD CONSTRAINT {name} EXCLUDE USING gist ({elements}) WHERE ({HOLDING})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in EXCLUSIONS:
            op.execute(f"ALTER TABLE sessions DROP CONSTRAINT {name}")
    op.drop_index("ix_sessions_starts_at", "sessions")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_constraint("fk_sessions_series", type_="foreignkey")
        for column in (
            "late_cancellation",
            "cancel_note",
            "no_show_recorded_at",
            "discharged_at",
            "treatment_started_at",
            "checked_in_at",
            "series_id",
            "chair_free_at",
            "clinician_id",
        ):
            batch.drop_column(column)
    op.drop_table("idempotency_keys")
    op.drop_table("series")
    op.drop_index("ix_intake_assessments_patient", "intake_assessments")
    op.drop_table("intake_assessments")
