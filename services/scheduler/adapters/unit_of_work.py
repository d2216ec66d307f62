"""The scheduler's unit of work: patients, sessions and their checkpoints, series, idempotency keys, staff accounts,
the audit trail and the outbox in one transaction."""

from sqlalchemy import Connection

from shared.persistence import SqlUnitOfWork

from .audit import SqlAuditLog
from .repositories import (
    SqlCheckpointRepository,
    SqlIdempotencyKeys,
    SqlPatientRepository,
    SqlSeriesRepository,
    SqlSessionRepository,
)
from .staff import SqlStaffAccounts


class SchedulerUnitOfWork(SqlUnitOfWork):
    def open_repositories(self, connection: Connection) -> None:
        self.patients = SqlPatientRepository(connection)
        self.sessions = SqlSessionRepository(connection)
        self.checkpoints = SqlCheckpointRepository(connection)
        self.series = SqlSeriesRepository(connection)
        self.idempotency_keys = SqlIdempotencyKeys(connection)
        self.staff = SqlStaffAccounts(connection)
        self.audit = SqlAuditLog(connection)
