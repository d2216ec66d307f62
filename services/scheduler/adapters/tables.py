"""The scheduler's tables."""
from sqlalchemy import Column, ForeignKey, Index, MetaData, String, Table, Text

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
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("patient_id", String(36), ForeignKey("patients.id"), nullable=False),
    Column("treatment_type", String(64), nullable=False),
    Column("chair_id", String(64), nullable=False),
    Column("starts_at", UtcDateTime, nullable=False),
    Column("treatment_ends_at", UtcDateTime, nullable=False),
    Column("recovery_ends_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("ride_home_mode", String(16), nullable=False),
    Column("escort_name", String(200), nullable=True),
    Column("escort_phone", String(32), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("cancelled_at", UtcDateTime, nullable=True),
    Column("cancel_reason", Text, nullable=True),
    Index("ix_sessions_chair_time", "chair_id", "starts_at"),
    Index("ix_sessions_patient", "patient_id"),
)
