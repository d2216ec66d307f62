"""The notifications service's unit of work: messages, inbox and outbox in one transaction."""

from collections.abc import Callable

from sqlalchemy import Connection, Engine

from shared.persistence import MessagingTables, SqlUnitOfWork

from .repositories import SqlMessageRepository


class NotificationsUnitOfWork(SqlUnitOfWork):
    def __init__(
        self,
        engine: Engine,
        tables: MessagingTables,
        producer: str,
        on_commit: Callable[[], None] = lambda: None,
        on_planned: Callable[[], None] = lambda: None,
    ):
        super().__init__(engine, tables, producer, on_commit=on_commit)
        self._on_planned = on_planned

    def open_repositories(self, connection: Connection) -> None:
        self.messages = SqlMessageRepository(connection)

    def commit(self) -> None:
        super().commit()
        # A message planned to go at once should not wait for the delivery worker's next look.
        if self.messages.added:
            self._on_planned()
