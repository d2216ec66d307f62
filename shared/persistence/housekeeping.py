"""Housekeeping: published outbox rows and the ids of handled events are pruned once their retention has passed.

An unpublished row is never pruned, however old: it is an event still owed to the broker. Rows go in small batches,
each in a transaction of its own, so that a large backlog never holds a long lock over the service's writes.
"""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select

from shared.polling import PollingWorker

from .types import utcnow
from .unit_of_work import MessagingTables

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 600.0
DEFAULT_BATCH_SIZE = 500


class Housekeeper:
    """A worker that prunes its service's messaging tables every ``interval`` seconds."""

    def __init__(
        self,
        engine: Engine,
        tables: MessagingTables,
        *,
        outbox_retention: timedelta,
        inbox_retention: timedelta,
        interval: float = DEFAULT_INTERVAL,
        clock: Callable[[], datetime] = utcnow,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ):
        if inbox_retention < outbox_retention:
            raise ValueError("the inbox retention must be at least the outbox retention")
        self._engine = engine
        self._tables = tables
        self._outbox_retention = outbox_retention
        self._inbox_retention = inbox_retention
        self._clock = clock
        self._batch_size = batch_size
        self._worker = PollingWorker("housekeeping", self.prune_once, poll_interval=interval, pause_after_failure=1)

    def run_until_stopped(self) -> None:
        self._worker.run_until_stopped()

    def stop(self) -> None:
        self._worker.stop()

    def prune_once(self) -> tuple[int, int]:
        """Prune what is past its retention now; return how many (outbox rows, inbox ids) went."""
        now = self._clock()
        outbox = self._tables.outbox
        published_long_ago = select(outbox.c.position).where(
            outbox.c.published_at.is_not(None), outbox.c.published_at < now - self._outbox_retention
        )
        pruned_outbox = self._prune(outbox, outbox.c.position, published_long_ago)
        inbox = self._tables.processed_events
        handled_long_ago = select(inbox.c.event_id).where(inbox.c.processed_at < now - self._inbox_retention)
        pruned_inbox = self._prune(inbox, inbox.c.event_id, handled_long_ago)
        if pruned_outbox or pruned_inbox:
            log.info("housekeeping pruned %d outbox row(s) and %d inbox id(s)", pruned_outbox, pruned_inbox)
        return pruned_outbox, pruned_inbox

    def _prune(self, table, key, selection) -> int:
        total = 0
        while True:
            with self._engine.begin() as connection:
                keys = connection.execute(selection.order_by(key).limit(self._batch_size)).scalars().all()
                if keys:
                    connection.execute(delete(table).where(key.in_(keys)))
            total += len(keys)
            if len(keys) < self._batch_size:
                return total
