"""Persistence plumbing every service uses the same way: engines, migrations, outbox, inbox, unit of work."""

from .engine import create_database_engine
from .migrations import upgrade_to_head
from .outbox import OutboxRelay
from .types import UtcDateTime, utcnow
from .unit_of_work import MessagingTables, SqlUnitOfWork

__all__ = [
    "MessagingTables",
    "OutboxRelay",
    "SqlUnitOfWork",
    "UtcDateTime",
    "create_database_engine",
    "upgrade_to_head",
    "utcnow",
]
