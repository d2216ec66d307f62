"""Clinicians, turnover, the session lifecycle, intake, series and idempotency keys.

No two holding sessions may share a chair, a clinician or a patient at overlapping times, and the database
itself refuses it: on PostgreSQL with exclusion constraints (btree_gist), on SQLite with triggers (whose
writers are serialized anyway). The scheduler checks first; these catch whatever a check could miss.

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

HOLDING = "('booked', 'checked_in', 'in_treatment', 'discharged')"
# name: (the resource column, the column where its hold ends)
EXCLUSIONS = {
    "sessions_chair_not_double_booked": ("chair_id", "chair_free_at"),
    "sessions_clinician_not_double_booked": ("clinician_id", "treatment_ends_at"),
    "sessions_patient_not_double_booked": ("patient_id", "recovery_ends_at"),
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
        for name, (resource, ends) in EXCLUSIONS.items():
            op.execute(
                f"ALTER TABLE sessions ADD CONSTRAINT {name} EXCLUDE USING gist "
                f"({resource} WITH =, tstzrange(starts_at, {ends}) WITH &&) WHERE (status IN {HOLDING})"
            )
    else:
        for name, (resource, ends) in EXCLUSIONS.items():
            for event in ("INSERT", "UPDATE"):
                op.execute(_sqlite_trigger(name, event, resource, ends))


def _sqlite_trigger(name: str, event: str, resource: str, ends: str) -> str:
    # SQLite stores these instants as fixed-width UTC text, so text order is time order.
    return f"""
        CREATE TRIGGER {name}_on_{event.lower()} BEFORE {event} ON sessions
        WHEN NEW.status IN {HOLDING} AND EXISTS (
            SELECT 1 FROM sessions AS other
            WHERE other.id != NEW.id AND other.{resource} = NEW.{resource} AND other.status IN {HOLDING}
              AND other.starts_at < NEW.{ends} AND NEW.starts_at < other.{ends}
        )
        BEGIN SELECT RAISE(ABORT, '{name}'); END
    """


def downgrade() -> None:
    for name in EXCLUSIONS:
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"ALTER TABLE sessions DROP CONSTRAINT {name}")
        else:
            op.execute(f"DROP TRIGGER {name}_on_insert")
            op.execute(f"DROP TRIGGER {name}_on_update")
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
