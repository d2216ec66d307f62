"""The transport service's tables."""

from sqlalchemy import Boolean, Column, Index, Integer, MetaData, String, Table

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
    Column("session_starts_at", UtcDateTime, nullable=True),
    Column("round", Integer, nullable=False, server_default="1"),
    Column("confirmed_at", UtcDateTime, nullable=True),
    Column("declined_at", UtcDateTime, nullable=True),
    Column("completed_at", UtcDateTime, nullable=True),
    Column("provider_ride_id", String(64), nullable=True),
    Column("provider_status", String(32), nullable=True),
    Index("ix_rides_session", "session_id"),
    Index("ix_rides_pickup", "pickup_at"),
)

# A session cancelled (or a no-show) before its booking reached transport: the late booking must not revive it.
tombstones = Table(
    "tombstones",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("event_type", String(100), nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
)

provider_requests = Table(
    "provider_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ride_id", String(36), nullable=False),
    Column("action", String(16), nullable=False),
    Column("round", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    # A worker owns a row until then, so that two replicas do not call the provider for it at once.
    Column("claimed_until", UtcDateTime, nullable=True),
    Column("done_at", UtcDateTime, nullable=True),
    Column("outcome", String(32), nullable=True),
    Column("last_error", String(200), nullable=True),
    Index("ix_provider_requests_pending", "done_at", "next_attempt_at"),
    Index("ix_provider_requests_ride", "ride_id"),
)

at_risk_checks = Table(
    "at_risk_checks",
    metadata,
    Column("ride_id", String(36), primary_key=True),
    Column("round", Integer, primary_key=True),
    Column("threshold", String(16), primary_key=True),
    Column("due_at", UtcDateTime, nullable=False),
    Column("checked_at", UtcDateTime, nullable=True),
    Column("fired", Boolean, nullable=False, default=False),
    Index("ix_at_risk_checks_due", "checked_at", "due_at"),
)

# Webhooks already applied, by the provider's id: a repeated one is acknowledged and changes nothing.
webhook_notices = Table(
    "webhook_notices",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("type", String(64), nullable=False),
    Column("ride_id", String(64), nullable=True),
    Column("received_at", UtcDateTime, nullable=False),
)
