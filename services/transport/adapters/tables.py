"""The transport service's tables."""
from sqlalchemy import Column, Index, MetaData, String, Table

from shared.persistence import MessagingTables, UtcDateTime

metadata = MetaData()
messaging = MessagingTables(metadata)

rides = Table(
    "rides",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("session_id", String(64), nullable=False),
    Column("patient_id", String(64), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("pickup_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("cancelled_at", UtcDateTime, nullable=True),
    Column("dispatched_at", UtcDateTime, nullable=True),
    Index("ix_rides_session", "session_id"),
    Index("ix_rides_pickup", "pickup_at"),
)
