"""A service's database, ready to use: its engine, its migrations applied, and the relay of its outbox."""

from collections.abc import Callable

from sqlalchemy import Engine

from shared.messaging import CLINIC_TOPOLOGY, EventPublisher

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
) -> tuple[Engine, OutboxRelay]:
    engine = create_database_engine(database_url, schema=service)
    upgrade_to_head(engine, migrations, schema=service)
    relay = OutboxRelay(
        engine,
        tables.outbox,
        publisher_factory or (lambda: EventPublisher(broker_url, CLINIC_TOPOLOGY)),
    )
    return engine, relay
