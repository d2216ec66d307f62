"""The scheduler's unit of work: patients, sessions and the outbox in one transaction."""
from sqlalchemy import Connection

from shared.persistence import SqlUnitOfWork

from .repositories import SqlPatientRepository, SqlSessionRepository


class SchedulerUnitOfWork(SqlUnitOfWork):
    def open_repositories(self, connection: Connection) -> None:
        self.patients = SqlPatientRepository(connection)
        self.sessions = SqlSessionRepository(connection)
