"""The outbox and the inbox of processed events: the same two tables in every service's database."""

from alembic import op
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, column

from .types import UtcDateTime


def _outbox_columns() -> list[Column]:
    return [
        Column("position", Integer, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("routing_key", String(100), nullable=False),
        Column("correlation_id", String(64), nullable=False),
        Column("body", Text, nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
        Column("published_at", UtcDateTime, nullable=True),
        Column("attempts", Integer, nullable=False, default=0),
        Column("last_error", Text, nullable=True),
    ]


def _processed_events_columns() -> list[Column]:
    return [
        Column("event_id", String(36), primary_key=True),
        Column("event_type", String(100), nullable=False),
        Column("processed_at", UtcDateTime, nullable=False),
    ]


def define_outbox(metadata: MetaData) -> Table:
    return Table("outbox", metadata, *_outbox_columns())


def define_processed_events(metadata: MetaData) -> Table:
    return Table("processed_events", metadata, *_processed_events_columns())


def create_messaging_tables() -> None:
    """Used by each service's first migration."""
    op.create_table("outbox", *_outbox_columns())
    unpublished = column("published_at").is_(None)
    op.create_index(
        "ix_outbox_unpublished", "outbox", ["position"], postgresql_where=unpublished, sqlite_where=unpublished
    )
    op.create_table("processed_events", *_processed_events_columns())
