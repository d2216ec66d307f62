"""How fast events leave a service, next to a baseline measured in the same run.

    .venv/bin/python bench/messaging.py [--events 2000]

Needs the local RabbitMQ (a throw-away vhost is made with rabbitmqctl) and, for the PostgreSQL rows, PostgreSQL.
Figures:
- baseline: pika, persistent publishes without confirms (fire and forget: what the broker can swallow);
- publisher: our EventPublisher, each publish confirmed by the broker and mandatory (nothing silently lost);
- outbox relay: rows written by bookings, published and marked, on SQLite and on PostgreSQL.
"""

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import pika

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from infrastructure import Database, Vhost, ensure_postgres, ensure_rabbitmq  # noqa: E402
from integration.helpers import session_booked  # noqa: E402

from services.transport.adapters import tables  # noqa: E402
from services.transport.bootstrap import MIGRATIONS  # noqa: E402
from shared.contract import to_json  # noqa: E402
from shared.messaging import CLINIC_TOPOLOGY, EventPublisher, OutgoingMessage  # noqa: E402
from shared.persistence import OutboxRelay, SqlUnitOfWork, create_database_engine, upgrade_to_head  # noqa: E402


def baseline_unconfirmed(url: str, bodies: list[str]) -> float:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    started = time.perf_counter()
    for body in bodies:
        channel.basic_publish(
            "clinic.events",
            "session.booked",
            body.encode(),
            pika.BasicProperties(content_type="application/json", delivery_mode=2),
        )
    connection.process_data_events(0)
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def confirmed(url: str, events) -> tuple[float, list[float]]:
    publisher = EventPublisher(url, CLINIC_TOPOLOGY)
    publisher.publish(OutgoingMessage(events[0].event_id, events[0].type, to_json(events[0]), "warm-up"))
    latencies = []
    started = time.perf_counter()
    for event in events:
        t0 = time.perf_counter()
        publisher.publish(OutgoingMessage(event.event_id, event.type, to_json(event), event.correlation_id))
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    publisher.close()
    return elapsed, latencies


def relay_drain(url: str, database_url: str, events) -> float:
    engine = create_database_engine(database_url, schema="transport")
    upgrade_to_head(engine, MIGRATIONS, schema="transport")
    with SqlUnitOfWork(engine, tables.messaging, "bench") as uow:
        uow.outbox.add(events)
        uow.commit()
    relay = OutboxRelay(engine, tables.messaging.outbox, lambda: EventPublisher(url, CLINIC_TOPOLOGY))
    publisher = EventPublisher(url, CLINIC_TOPOLOGY)
    started = time.perf_counter()
    while relay.publish_pending(publisher):
        pass
    elapsed = time.perf_counter() - started
    assert relay.pending() == 0
    publisher.close()
    engine.dispose()
    return elapsed


def purge(url: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    for queue in ("transport.events", "notifications.events", "audit.events"):
        channel.queue_purge(queue)
    connection.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    n = parser.parse_args().events
    ensure_rabbitmq()
    ensure_postgres()
    events = [session_booked() for _ in range(n)]
    rows = []
    with Vhost() as vhost:
        EventPublisher(vhost.url, CLINIC_TOPOLOGY).publish(
            OutgoingMessage(events[0].event_id, events[0].type, to_json(events[0]), "declare")
        )
        purge(vhost.url)
        base = baseline_unconfirmed(vhost.url, [to_json(e) for e in events])
        rows.append(("baseline: pika publish, no confirms", n / base, None, None))
        purge(vhost.url)
        elapsed, latencies = confirmed(vhost.url, events)
        quantiles = statistics.quantiles(latencies, n=100)
        rows.append(("EventPublisher: confirmed + mandatory", n / elapsed, quantiles[49] * 1000, quantiles[94] * 1000))
        purge(vhost.url)
        with tempfile.TemporaryDirectory() as tmp:
            drained = relay_drain(vhost.url, f"sqlite:///{tmp}/bench.sqlite3", [session_booked() for _ in range(n)])
        rows.append(("outbox relay on SQLite: publish + mark", n / drained, None, None))
        purge(vhost.url)
        with Database() as database:
            drained = relay_drain(vhost.url, database.url, [session_booked() for _ in range(n)])
        rows.append(("outbox relay on PostgreSQL: publish + mark", n / drained, None, None))
        purge(vhost.url)
    cpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    print(
        f"{n} events, {datetime.now():%Y-%m-%d}, {platform.machine()} {cpu} cores, Python {platform.python_version()}"
    )
    print(f"{'':46} {'events/s':>10} {'p50 ms':>8} {'p95 ms':>8}")
    for name, rate, p50, p95 in rows:
        p50_text = f"{p50:8.2f}" if p50 is not None else " " * 8
        p95_text = f"{p95:8.2f}" if p95 is not None else " " * 8
        print(f"{name:46} {rate:10.0f} {p50_text} {p95_text}")
    print(f"confirmed publishing runs at {rows[1][1] / rows[0][1]:.0%} of the unconfirmed baseline")


if __name__ == "__main__":
    main()
