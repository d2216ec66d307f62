"""The notifications service's unit of work: messages, inbox and outbox in one transaction."""

from sqlalchemy import Connection

from shared.persistence import SqlUnitOfWork

from .repositories import SqlMessageRepository


class NotificationsUnitOfWork(SqlUnitOfWork):
    def open_repositories(self, connection: Connection) -> None:
        self.messages = SqlMessageRepository(connection)
