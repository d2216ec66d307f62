"""The notifications service's tables."""

from sqlalchemy import Column, Index, MetaData, String, Table, Text, UniqueConstraint

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
    Column("channel", String(16), nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    Column("failure_reason", Text, nullable=True),
    Column("recipient", String(16), nullable=False, server_default="patient"),
    Column("dedupe_key", String(128), nullable=False, server_default=""),
    UniqueConstraint("session_id", "kind", "dedupe_key", name="uq_messages_session_kind_key"),
    Index("ix_messages_created", "created_at"),
)
