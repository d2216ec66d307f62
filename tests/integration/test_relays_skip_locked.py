"""Several relays of one service on one PostgreSQL database: each row is published by exactly one of them.

Each relay takes its rows FOR UPDATE SKIP LOCKED and keeps them locked until it has marked them, so the others skip
them instead of publishing them too (or waiting for them).
"""

import threading
from contextlib import ExitStack

import pytest
from integration.helpers import DEADLINE, QueueReader, eventually, running, session_booked
from sqlalchemy import func, select

from services.scheduler.adapters import tables
from services.scheduler.bootstrap import MIGRATIONS
from shared.messaging import CLINIC_TOPOLOGY, EventPublisher, OutgoingMessage
from shared.persistence import OutboxRelay
from shared.persistence.outbox import OutboxWriter
from shared.persistence.service_database import open_service_database

pytestmark = pytest.mark.integration

ROWS = 500
RELAYS = 3


class RecordingPublisher:
    """The real publisher, noting what its relay published; each relay's first publish waits for the others' first.

    That wait proves the point: every relay holds a batch of locked rows at the same moment. Were a relay blocked on
    the rows another one holds, the barrier would break instead.
    """

    def __init__(self, broker_url: str, barrier: threading.Barrier):
        self._publisher = EventPublisher(broker_url, CLINIC_TOPOLOGY)
        self._barrier = barrier
        self.event_ids: list[str] = []

    def publish(self, message: OutgoingMessage) -> None:
        if not self.event_ids:
            self._barrier.wait(DEADLINE)
        self._publisher.publish(message)
        self.event_ids.append(message.event_id)

    def close(self) -> None:
        self._publisher.close()


def test_three_relays_on_one_postgresql_database_publish_every_row_exactly_once_each_in_its_own_order(
    broker_url, postgres_url
):
    engine, _ = open_service_database(
        service="scheduler",
        database_url=postgres_url,
        broker_url=broker_url,
        migrations=MIGRATIONS,
        tables=tables.messaging,
    )
    outbox = tables.messaging.outbox
    events = [session_booked() for _ in range(ROWS)]
    with engine.begin() as connection:
        OutboxWriter(connection, outbox, "scheduler").add(events)
    written = [event.event_id for event in events]
    audit = QueueReader(broker_url, "audit.events")
    audit.read()  # declares nothing: the publishers do, on connecting; this only checks the queue starts empty
    assert audit.messages == []

    barrier = threading.Barrier(RELAYS)
    publishers = [RecordingPublisher(broker_url, barrier) for _ in range(RELAYS)]
    relays = [
        OutboxRelay(engine, outbox, lambda publisher=publisher: publisher, batch_size=10, poll_interval=0.2)
        for publisher in publishers
    ]
    with ExitStack() as stack:
        for index, relay in enumerate(relays):
            stack.enter_context(running(relay, name=f"relay {index}"))
        audit.wait_for_count(ROWS, what=f"the {ROWS} events reaching audit.events", deadline=4 * DEADLINE)
        eventually(lambda: relays[0].pending() == 0, what="every row marked published")

    received = [message.properties.message_id for message in audit.read()]
    assert sorted(received) == sorted(written), "every event arrives exactly once"
    assert len(received) == len(set(received)) == ROWS
    by_relay = [publisher.event_ids for publisher in publishers]
    assert all(by_relay), "every relay took rows while the others held theirs"
    assert sorted(sum(by_relay, [])) == sorted(written), "no row was published by two relays"
    position = {event_id: index for index, event_id in enumerate(written)}
    arrival = {event_id: index for index, event_id in enumerate(received)}
    for published in by_relay:
        assert [position[e] for e in published] == sorted(position[e] for e in published), "a relay keeps the order"
        assert [arrival[e] for e in published] == sorted(arrival[e] for e in published), "and so does the queue"
    with engine.connect() as connection:
        unpublished = connection.execute(
            select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        ).scalar_one()
    assert unpublished == 0
    engine.dispose()
