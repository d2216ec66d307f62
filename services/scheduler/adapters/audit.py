"""The audit trail in the scheduler's database, written by the same transaction as the change it records."""

from datetime import datetime

from sqlalchemy import Connection, insert, select

from ..domain.audit import MAX_DETAIL, AuditAction, AuditEntry
from ..domain.staff import Actor
from .tables import audit_entries


class SqlAuditLog:
    def __init__(self, connection: Connection):
        self._connection = connection

    def record(
        self, actor: Actor, action: AuditAction, subject_id: str | None, now: datetime, detail: str | None = None
    ) -> None:
        self._connection.execute(
            insert(audit_entries).values(
                at=now,
                actor_id=actor.id,
                actor_name=actor.name[:64],
                action=action.value,
                subject_id=subject_id,
                detail=detail[:MAX_DETAIL] if detail else None,
            )
        )

    def between(self, starts_at: datetime, ends_at: datetime, *, limit: int) -> list[AuditEntry]:
        """The latest entries in the window, newest first."""
        query = (
            select(audit_entries)
            .where(audit_entries.c.at >= starts_at, audit_entries.c.at < ends_at)
            .order_by(audit_entries.c.at.desc(), audit_entries.c.id.desc())
            .limit(limit)
        )
        return [
            AuditEntry(
                at=row.at,
                actor=Actor(id=row.actor_id, name=row.actor_name),
                action=AuditAction(row.action),
                subject_id=row.subject_id,
                detail=row.detail,
            )
            for row in self._connection.execute(query)
        ]
