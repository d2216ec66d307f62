"""The unit of work: one database transaction holding a change, the events it causes and the events it consumed."""

from collections.abc import Callable

from sqlalchemy import Connection, Engine, MetaData

from .engine import READ_ONLY
from .inbox import Inbox
from .messaging_tables import define_outbox, define_processed_events
from .outbox import OutboxWriter


class MessagingTables:
    def __init__(self, metadata: MetaData):
        self.outbox = define_outbox(metadata)
        self.processed_events = define_processed_events(metadata)


class SqlUnitOfWork:
    """Subclasses open their repositories in ``open_repositories``. Nothing is kept unless ``commit()`` is called."""

    def __init__(
        self,
        engine: Engine,
        tables: MessagingTables,
        producer: str,
        on_commit: Callable[[], None] = lambda: None,
    ):
        self._engine = engine
        self._tables = tables
        self._producer = producer
        self._on_commit = on_commit
        self._connection: Connection | None = None
        self._reading_only = False

    def read_only(self) -> "SqlUnitOfWork":
        """This unit of work, for a transaction that only reads.

        On SQLite it takes no write lock, so a read never queues behind a booking nor holds one up; on PostgreSQL
        the database refuses any write made in it.
        """
        self._reading_only = True
        return self

    def __enter__(self):
        self._connection = self._engine.connect()
        try:
            if self._reading_only:
                self._connection.execution_options(**READ_ONLY)
            self._transaction = self._connection.begin()
            self.outbox = OutboxWriter(self._connection, self._tables.outbox, self._producer)
            self.inbox = Inbox(self._connection, self._tables.processed_events)
            self.open_repositories(self._connection)
        except BaseException:
            self._connection.close()
            self._reading_only = False
            raise
        return self

    def __exit__(self, *exc_info):
        if self._transaction.is_active:
            self._transaction.rollback()
        self._connection.close()
        self._reading_only = False

    def open_repositories(self, connection: Connection) -> None:
        pass

    def commit(self) -> None:
        self._transaction.commit()
        if self.outbox.added:
            self._on_commit()

    def rollback(self) -> None:
        self._transaction.rollback()
