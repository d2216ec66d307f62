"""Housekeeping prunes published outbox rows and handled inbox ids after their retention, on SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta

import pytest
from integration.helpers import eventually, running, session_booked
from sqlalchemy import insert, select, update

from services.scheduler.adapters import tables
from services.scheduler.bootstrap import MIGRATIONS
from shared.persistence.housekeeping import Housekeeper
from shared.persistence.outbox import OutboxWriter
from shared.persistence.service_database import open_service_database

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
WEEK = timedelta(days=7)
TWO_WEEKS = timedelta(days=14)
outbox = tables.messaging.outbox
inbox = tables.messaging.processed_events


@pytest.fixture
def engine(database_url):
    engine, _ = open_service_database(
        service="scheduler",
        database_url=database_url,
        broker_url="memory://",
        migrations=MIGRATIONS,
        tables=tables.messaging,
    )
    yield engine
    engine.dispose()


def housekeeper(engine, **kwargs) -> Housekeeper:
    options = {"outbox_retention": WEEK, "inbox_retention": TWO_WEEKS, "interval": 0.1, "clock": lambda: NOW}
    return Housekeeper(engine, tables.messaging, **{**options, **kwargs})


def outbox_row(engine, *, created: timedelta, published: timedelta | None) -> str:
    """An outbox row written `created` ago and published `published` ago (None: not published); its event id."""
    event = session_booked()
    with engine.begin() as connection:
        OutboxWriter(connection, outbox, "scheduler").add([event])
        connection.execute(
            update(outbox)
            .where(outbox.c.event_id == event.event_id)
            .values(created_at=NOW - created, published_at=None if published is None else NOW - published)
        )
    return event.event_id


def handled(engine, *, ago: timedelta) -> str:
    event = session_booked()
    with engine.begin() as connection:
        connection.execute(insert(inbox).values(event_id=event.event_id, event_type=event.type, processed_at=NOW - ago))
    return event.event_id


def outbox_ids(engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(select(outbox.c.event_id)).scalars())


def inbox_ids(engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(select(inbox.c.event_id)).scalars())


def test_published_rows_past_the_outbox_retention_are_pruned_and_the_others_kept(engine):
    old = outbox_row(engine, created=WEEK + timedelta(hours=2), published=WEEK + timedelta(hours=1))
    recent = outbox_row(engine, created=WEEK, published=WEEK - timedelta(hours=1))
    fresh = outbox_row(engine, created=timedelta(minutes=5), published=timedelta(minutes=4))

    assert housekeeper(engine).prune_once() == (1, 0)

    assert outbox_ids(engine) == {recent, fresh}
    assert old not in outbox_ids(engine)


def test_an_unpublished_row_is_never_pruned_however_old(engine):
    owed = outbox_row(engine, created=10 * WEEK, published=None)

    assert housekeeper(engine).prune_once() == (0, 0)

    assert outbox_ids(engine) == {owed}


def test_handled_event_ids_past_the_inbox_retention_are_pruned_and_the_others_kept(engine):
    forgotten = handled(engine, ago=TWO_WEEKS + timedelta(minutes=1))
    remembered = handled(engine, ago=TWO_WEEKS - timedelta(minutes=1))
    # Past the outbox's retention but not the inbox's: still remembered, since the event may be published again.
    past_the_outbox_retention = handled(engine, ago=WEEK + timedelta(days=1))

    assert housekeeper(engine).prune_once() == (0, 1)

    assert inbox_ids(engine) == {remembered, past_the_outbox_retention}
    assert forgotten not in inbox_ids(engine)


def test_a_large_backlog_is_pruned_in_batches_all_of_it(engine):
    old = [outbox_row(engine, created=3 * WEEK, published=3 * WEEK) for _ in range(23)]
    kept = outbox_row(engine, created=timedelta(days=1), published=timedelta(days=1))
    [handled(engine, ago=5 * WEEK) for _ in range(17)]

    assert housekeeper(engine, batch_size=5).prune_once() == (len(old), 17)

    assert outbox_ids(engine) == {kept}
    assert inbox_ids(engine) == set()


def test_the_housekeeper_prunes_by_itself_while_it_runs_and_stops_when_asked(engine):
    outbox_row(engine, created=3 * WEEK, published=3 * WEEK)
    handled(engine, ago=5 * WEEK)
    worker = housekeeper(engine)

    with running(worker, name="housekeeper"):
        eventually(lambda: not outbox_ids(engine) and not inbox_ids(engine), what="the housekeeper pruning both")
        late = outbox_row(engine, created=2 * WEEK, published=2 * WEEK)
        eventually(lambda: late not in outbox_ids(engine), what="the housekeeper pruning a row added meanwhile")

    assert outbox_ids(engine) == set()


def test_an_inbox_retention_shorter_than_the_outbox_retention_is_refused(engine):
    with pytest.raises(ValueError, match="inbox retention must be at least the outbox retention"):
        housekeeper(engine, outbox_retention=TWO_WEEKS, inbox_retention=WEEK)
