"""A service's database, ready to use: its engine, its migrations applied, and the relay of its outbox."""

from collections.abc import Callable

from sqlalchemy import Engine

from shared.messaging import CLINIC_TOPOLOGY, EventPublisher
from shared.messaging.broker import is_amqp

from .engine import create_database_engine
from .migrations import upgrade_to_head
from .outbox import OutboxRelay
from .unit_of_work import MessagingTables


def open_service_database(
    *,
    service: str,
    database_url: str,
    broker_url: str,
    migrations: str,
    tables: MessagingTables,
    publisher_factory: Callable[[], EventPublisher] | None = None,
    on_published: Callable[[str], None] | None = None,
) -> tuple[Engine, OutboxRelay]:
    """The engine and the relay; ``on_published(event_type)`` is called after each event the broker confirmed.

    On a broker that keeps nothing across a restart (the in-memory one of the embedded default), the relay starts
    by publishing again what the outbox still holds: what that broker held when the process died is gone.
    """
    engine = create_database_engine(database_url, schema=service)
    upgrade_to_head(engine, migrations, schema=service)
    relay = OutboxRelay(
        engine,
        tables.outbox,
        publisher_factory or (lambda: EventPublisher(broker_url, CLINIC_TOPOLOGY)),
        on_published=on_published,
        replay_published_on_start=not is_amqp(broker_url),
    )
    return engine, relay
