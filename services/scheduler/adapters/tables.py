"""The scheduler's tables."""

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, MetaData, String, Table, Text, false

from shared.persistence import MessagingTables, UtcDateTime

metadata = MetaData()
messaging = MessagingTables(metadata)

patients = Table(
    "patients",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("full_name", String(200), nullable=False),
    Column("phone", String(32), nullable=False),
    Column("email", String(320), nullable=True),
    Column("preferred_channel", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("language", String(8), nullable=False, server_default="en"),
    Column("reminders_opt_out", Boolean, nullable=False, server_default=false()),
)

intake_assessments = Table(
    "intake_assessments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("patient_id", String(36), ForeignKey("patients.id"), nullable=False),
    Column("completed_at", UtcDateTime, nullable=False),
    Column("recorded_by", String(200), nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("session_id", String(36), nullable=True),
    Index("ix_intake_assessments_patient", "patient_id"),
)

series = Table(
    "series",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("patient_id", String(36), ForeignKey("patients.id"), nullable=False),
    Column("treatment_type", String(64), nullable=False),
    Column("session_count", Integer, nullable=False),
    Column("within_days", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("patient_id", String(36), ForeignKey("patients.id"), nullable=False),
    Column("treatment_type", String(64), nullable=False),
    Column("chair_id", String(64), nullable=False),
    Column("clinician_id", String(64), nullable=True),
    Column("starts_at", UtcDateTime, nullable=False),
    Column("treatment_ends_at", UtcDateTime, nullable=False),
    Column("recovery_ends_at", UtcDateTime, nullable=False),
    Column("chair_free_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("ride_home_mode", String(16), nullable=False),
    Column("escort_name", String(200), nullable=True),
    Column("escort_phone", String(32), nullable=True),
    Column("series_id", String(36), ForeignKey("series.id"), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("checked_in_at", UtcDateTime, nullable=True),
    Column("treatment_started_at", UtcDateTime, nullable=True),
    Column("discharged_at", UtcDateTime, nullable=True),
    Column("no_show_recorded_at", UtcDateTime, nullable=True),
    Column("cancelled_at", UtcDateTime, nullable=True),
    Column("cancel_reason", Text, nullable=True),
    Column("cancel_note", Text, nullable=True),
    Column("late_cancellation", Boolean, nullable=True),
    Column("dropoff_address", String(300), nullable=True),
    Column("ride_status", String(16), nullable=True),
    Column("ride_status_at", UtcDateTime, nullable=True),
    Column("check_in_override_reason", String(300), nullable=True),
    Column("booked_starts_at", UtcDateTime, nullable=True),
    Column("start_override_reason", String(300), nullable=True),
    Column("discharge_override_reason", String(300), nullable=True),
    Index("ix_sessions_chair_time", "chair_id", "starts_at"),
    Index("ix_sessions_patient", "patient_id"),
    Index("ix_sessions_starts_at", "starts_at"),
)

# A monitoring checkpoint a clinician marked done: when, and by whom (a staff username, or the service).
session_checkpoints = Table(
    "session_checkpoints",
    metadata,
    Column("session_id", String(36), ForeignKey("sessions.id"), primary_key=True),
    Column("checkpoint_id", String(64), primary_key=True),
    Column("done_at", UtcDateTime, nullable=False),
    Column("done_by", String(64), nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("operation", String(32), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("resource_id", String(36), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
)

staff_accounts = Table(
    "staff_accounts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("failed_sign_ins", Integer, nullable=False),
    Column("locked_until", UtcDateTime, nullable=True),
    Column("sessions_valid_after", UtcDateTime, nullable=True),
)

audit_entries = Table(
    "audit_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor_id", String(36), nullable=True),
    Column("actor_name", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("subject_id", String(64), nullable=True),
    Column("detail", String(200), nullable=True),
    Index("ix_audit_entries_at", "at"),
)
