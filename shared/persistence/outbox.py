"""The transactional outbox: events are written with the change that caused them and published after commit."""

import logging
import threading
from collections.abc import Callable, Iterable

from sqlalchemy import Connection, Engine, Table, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from shared.contract import Event, to_json
from shared.messaging import EventPublisher, OutgoingMessage, PublishFailed, UnroutableEvent
from shared.redaction import describe

from .types import utcnow

log = logging.getLogger(__name__)


class OutboxWriter:
    """Adds events to the outbox inside the caller's transaction."""

    def __init__(self, connection: Connection, table: Table, producer: str):
        self._connection = connection
        self._table = table
        self._producer = producer
        self.added: list[Event] = []

    def add(self, events: Iterable[Event]) -> None:
        rows = []
        for event in events:
            stamped = event.stamped_by(self._producer)
            rows.append(
                {
                    "event_id": stamped.event_id,
                    "routing_key": stamped.type,
                    "correlation_id": stamped.correlation_id,
                    "body": to_json(stamped),
                    "created_at": utcnow(),
                    "attempts": 0,
                }
            )
            self.added.append(stamped)
        if rows:
            self._connection.execute(insert(self._table), rows)


class OutboxRelay:
    """Publishes unpublished outbox rows in order, and marks them only once the broker confirmed them.

    Woken at once by ``notify()`` after a commit; also polls, so rows left by a crash or an outage go out later.
    Publishing twice is possible after a crash between confirm and mark; consumers are idempotent.
    """

    def __init__(
        self,
        engine: Engine,
        table: Table,
        publisher_factory: Callable[[], EventPublisher],
        *,
        batch_size: int = 200,
        poll_interval: float = 2.0,
        max_backoff: float = 30.0,
    ):
        self._engine = engine
        self._table = table
        self._publisher_factory = publisher_factory
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._max_backoff = max_backoff
        self._wake = threading.Event()
        self._stopping = threading.Event()

    def notify(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def pending(self) -> int:
        """How many events wait to be published: what ops watch to see the broker falling behind."""
        with self._engine.connect() as connection:
            return connection.execute(
                select(func.count()).select_from(self._table).where(self._table.c.published_at.is_(None))
            ).scalar_one()

    def run_until_stopped(self) -> None:
        publisher = self._publisher_factory()
        backoff = 0.0
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                try:
                    published = self.publish_pending(publisher)
                except (PublishFailed, SQLAlchemyError) as exc:
                    backoff = min(max(backoff * 2, 0.5), self._max_backoff)
                    log.warning("outbox relay paused %.1fs: %s", backoff, describe(exc))
                    self._stopping.wait(backoff)
                    continue
                backoff = 0.0
                if published < self._batch_size:
                    self._wake.wait(self._poll_interval)
        finally:
            publisher.close()

    def publish_pending(self, publisher: EventPublisher) -> int:
        """Publish one batch; return how many rows it held. Raises PublishFailed when the broker is unavailable."""
        table = self._table
        with self._engine.begin() as connection:
            rows = connection.execute(
                select(table.c.position, table.c.event_id, table.c.routing_key, table.c.correlation_id, table.c.body)
                .where(table.c.published_at.is_(None))
                .order_by(table.c.position)
                .limit(self._batch_size)
            ).all()
        confirmed: list[int] = []
        try:
            for row in rows:
                message = OutgoingMessage(row.event_id, row.routing_key, row.body, row.correlation_id)
                try:
                    publisher.publish(message)
                except UnroutableEvent as exc:
                    # A topology mistake: keep the row for after the fix, and let the rest go out.
                    self._record_failure(row.position, str(exc))
                    continue
                confirmed.append(row.position)
        finally:
            self._mark_published(confirmed)
        return len(rows)

    def _mark_published(self, positions: list[int]) -> None:
        if not positions:
            return
        with self._engine.begin() as connection:
            connection.execute(
                update(self._table)
                .where(self._table.c.position.in_(positions))
                .values(published_at=utcnow(), last_error=None)
            )
        log.debug("outbox published %d event(s)", len(positions))

    def _record_failure(self, position: int, error: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                update(self._table)
                .where(self._table.c.position == position)
                .values(attempts=self._table.c.attempts + 1, last_error=error[:1000])
            )
