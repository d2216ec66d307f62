"""The transactional outbox: events are written with the change that caused them and published after commit."""

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import Connection, Engine, Table, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from shared import log_context
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

    On PostgreSQL a round takes its rows ``FOR UPDATE SKIP LOCKED`` and keeps them locked until they are marked, so
    several processes of one service may each run a relay: no two publish the same row, and each keeps the order of
    the rows it takes. (SQLite serializes writers anyway: one process per database file.)

    With ``replay_published_on_start`` (a broker that keeps nothing across a restart: kombu's in-memory transport),
    the first round publishes again every row still in the outbox, published or not, in position order: what the
    previous process's broker held (queued, in a consumer's hands, waiting for a retry) died with it. The consumers'
    inboxes drop what they already handled; the inbox retention is at least the outbox's, so none is forgotten.
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
        on_published: Callable[[str], None] | None = None,
        replay_published_on_start: bool = False,
        clock: Callable[[], datetime] = utcnow,
    ):
        self._engine = engine
        self._table = table
        self._publisher_factory = publisher_factory
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._max_backoff = max_backoff
        self._on_published = on_published
        self._clock = clock
        self._lock_rows = engine.dialect.name == "postgresql"
        self._wake = threading.Event()
        self._stopping = threading.Event()
        # Where the replay has come to (the last position sent again); None once it is over, or when there is none.
        self._replayed_up_to: int | None = 0 if replay_published_on_start else None
        self._last_round_at: datetime | None = None
        self._created_at = clock()
        self._last_failure: str | None = None

    def notify(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    # --- what ops see -----------------------------------------------------------------------------------------

    def pending(self) -> int:
        """How many events wait to be published: what ops watch to see the broker falling behind."""
        with self._engine.connect() as connection:
            return connection.execute(
                select(func.count()).select_from(self._table).where(self._table.c.published_at.is_(None))
            ).scalar_one()

    def status(self) -> dict:
        """The backlog and how the relay fares; raises SQLAlchemyError when the database does not answer."""
        table = self._table
        with self._engine.connect() as connection:
            pending, oldest = connection.execute(
                select(func.count(), func.min(table.c.created_at)).where(table.c.published_at.is_(None))
            ).one()
        age = max(0.0, (self._clock() - oldest).total_seconds()) if oldest is not None else None
        last_round = self._last_round_at
        return {
            "pending": int(pending),
            "oldest_unsent_age_seconds": round(age, 3) if age is not None else None,
            "last_round_at": last_round.isoformat() if last_round is not None else None,
            "failing": self._last_failure is not None,
            "last_failure": self._last_failure,
        }

    def stuck(self, max_age: float) -> bool:
        """Whether an unsent row is older than ``max_age`` seconds, or rows wait and no round ended for that long."""
        status = self.status()
        if not status["pending"]:
            return False
        if status["oldest_unsent_age_seconds"] is not None and status["oldest_unsent_age_seconds"] > max_age:
            return True
        last_round = self._last_round_at or self._created_at
        return (self._clock() - last_round).total_seconds() > max_age

    # --- the loop ---------------------------------------------------------------------------------------------

    def run_until_stopped(self) -> None:
        publisher = self._publisher_factory()
        backoff = 0.0
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                try:
                    if self._replayed_up_to is not None:
                        published = self.replay_published(publisher)
                    else:
                        published = self.publish_pending(publisher)
                except (PublishFailed, SQLAlchemyError) as exc:
                    self._last_failure = describe(exc)
                    self._last_round_at = self._clock()
                    backoff = min(max(backoff * 2, 0.5), self._max_backoff)
                    log.warning("outbox relay paused %.1fs: %s", backoff, self._last_failure)
                    self._stopping.wait(backoff)
                    continue
                self._last_failure = None
                self._last_round_at = self._clock()
                backoff = 0.0
                if published < self._batch_size:
                    self._wake.wait(self._poll_interval)
        finally:
            publisher.close()

    def replay_published(self, publisher: EventPublisher) -> int:
        """Send one more batch of the start-up replay; return how many rows it held (the replay ends on a short one).

        Every row goes, published or not, in position order, so that an event never overtakes one written before
        it; the unpublished ones are marked as usual.
        """
        table = self._table
        after = self._replayed_up_to or 0
        with self._engine.begin() as connection:
            rows = connection.execute(
                self._columns().where(table.c.position > after).order_by(table.c.position).limit(self._batch_size)
            ).all()
        if after == 0:
            log.info("outbox replay: sending again what the outbox still holds, since the broker kept nothing")
        confirmed: list[int] = []
        unroutable: list[tuple[int, str]] = []
        try:
            for row in rows:
                if row.published_at is not None:
                    error = self._publish(publisher, row)
                    if error is not None:
                        log.warning("outbox replay: %s", error)
                else:
                    self._publish_rows(publisher, [row], confirmed, unroutable)
                self._replayed_up_to = row.position
        finally:
            with self._engine.begin() as connection:
                self._mark(connection, confirmed, unroutable)
        if len(rows) < self._batch_size:
            log.info("outbox replay done (up to position %d)", self._replayed_up_to or 0)
            self._replayed_up_to = None
        return len(rows)

    def publish_pending(self, publisher: EventPublisher) -> int:
        """Publish one batch; return how many rows it held. Raises PublishFailed when the broker is unavailable."""
        table = self._table
        query = self._columns().where(table.c.published_at.is_(None)).order_by(table.c.position)
        query = query.limit(self._batch_size)
        if not self._lock_rows:
            with self._engine.begin() as connection:
                rows = connection.execute(query).all()
            confirmed: list[int] = []
            unroutable: list[tuple[int, str]] = []
            try:
                self._publish_rows(publisher, rows, confirmed, unroutable)
            finally:
                with self._engine.begin() as connection:
                    self._mark(connection, confirmed, unroutable)
            return len(rows)
        # The rows stay locked until they are marked, in the same transaction: another relay skips them meanwhile.
        failure: PublishFailed | None = None
        with self._engine.begin() as connection:
            rows = connection.execute(query.with_for_update(skip_locked=True)).all()
            confirmed = []
            unroutable = []
            try:
                self._publish_rows(publisher, rows, confirmed, unroutable)
            except PublishFailed as exc:
                failure = exc  # keep what was confirmed before the failure: commit its marks, then report it
            self._mark(connection, confirmed, unroutable)
        if failure is not None:
            raise failure
        return len(rows)

    def _columns(self):
        table = self._table
        return select(
            table.c.position,
            table.c.event_id,
            table.c.routing_key,
            table.c.correlation_id,
            table.c.body,
            table.c.published_at,
        )

    def _publish_rows(
        self, publisher: EventPublisher, rows, confirmed: list[int], unroutable: list[tuple[int, str]]
    ) -> None:
        """Publish rows in order, noting which were confirmed and which no queue is bound for. Raises PublishFailed."""
        for row in rows:
            error = self._publish(publisher, row)
            if error is None:
                confirmed.append(row.position)
            else:
                # A topology mistake: keep the row for after the fix, and let the rest go out.
                unroutable.append((row.position, error))

    def _publish(self, publisher: EventPublisher, row) -> str | None:
        """Publish one row; return why when no queue is bound for it. Raises PublishFailed."""
        message = OutgoingMessage(row.event_id, row.routing_key, row.body, row.correlation_id)
        try:
            about = {"event_type": row.routing_key, "event_id": row.event_id, "correlation_id": row.correlation_id}
            with log_context.bound(**about):
                publisher.publish(message)
        except UnroutableEvent as exc:
            return str(exc)
        if self._on_published is not None:
            try:
                self._on_published(row.routing_key)
            except Exception:  # counting must never stop events going out
                log.exception("on_published failed for %s", row.routing_key)
        return None

    def _mark(self, connection: Connection, confirmed: list[int], unroutable: list[tuple[int, str]]) -> None:
        table = self._table
        if confirmed:
            connection.execute(
                update(table).where(table.c.position.in_(confirmed)).values(published_at=utcnow(), last_error=None)
            )
            log.debug("outbox published %d event(s)", len(confirmed))
        for position, error in unroutable:
            connection.execute(
                update(table)
                .where(table.c.position == position)
                .values(attempts=table.c.attempts + 1, last_error=error[:1000])
            )
