"""The notifications service's tables."""

from sqlalchemy import Boolean, Column, Index, Integer, MetaData, String, Table, Text, UniqueConstraint

from shared.persistence import MessagingTables, UtcDateTime

metadata = MetaData()
messaging = MessagingTables(metadata)

messages = Table(
    "messages",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("session_id", String(64), nullable=False),
    Column("patient_id", String(64), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("channel", String(16), nullable=True),
    Column("subject", Text, nullable=True),
    Column("body", Text, nullable=True),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("recipient", String(16), nullable=False, server_default="patient"),
    Column("dedupe_key", String(128), nullable=False, server_default=""),
    Column("due_at", UtcDateTime, nullable=True),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("language", String(8), nullable=True),
    Column("ride_id", String(64), nullable=True),
    Column("detail", String(32), nullable=True),
    Column("cancel_reason", String(64), nullable=True),
    Column("fell_back", Boolean, nullable=False, server_default="0"),
    Column("claimed_until", UtcDateTime, nullable=True),
    UniqueConstraint("session_id", "kind", "recipient", "dedupe_key", name="uq_messages_occasion"),
    Index("ix_messages_created", "created_at"),
    Index("ix_messages_due", "status", "next_attempt_at"),
)
