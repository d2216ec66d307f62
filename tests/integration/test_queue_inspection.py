"""Queue figures against the real RabbitMQ: from passive declarations, and from the management HTTP API."""

import threading
import uuid

import pytest
from integration.helpers import (
    CLOSED_PORT_URL,
    BrokerProxy,
    eventually,
    pika_channel,
    publish_raw,
    running,
    session_booked_json,
    wait_until_ready,
)
from integration.management_plugin import MANAGEMENT_PASSWORD, MANAGEMENT_USER, ensure_management_plugin

from shared.messaging import CLINIC_TOPOLOGY, EventConsumer
from shared.messaging.inspection import BrokerSnapshot, QueueFigures, queue_inspector
from shared.messaging.topology import TRANSPORT_QUEUE

pytestmark = pytest.mark.integration

# The management API collects statistics every few seconds: its figures catch up after a while.
MANAGEMENT_DEADLINE = 90.0
EVERY_QUEUE = {
    "scheduler.events",
    "scheduler.events.dlq",
    "scheduler.events.retry",
    "transport.events",
    "transport.events.dlq",
    "transport.events.retry",
    "notifications.events",
    "notifications.events.dlq",
    "notifications.events.retry",
    "audit.events",
}


class HoldingHandler:
    """Holds the first event it gets until released, so that the consumer keeps messages unacknowledged."""

    def __init__(self):
        self.release = threading.Event()
        self.holding = threading.Event()

    def __call__(self, event) -> None:
        self.holding.set()
        self.release.wait()


def publish_events(broker_url: str, count: int) -> None:
    for _ in range(count):
        event, body = session_booked_json()
        publish_raw(broker_url, body, message_id=event.event_id)


def figures(snapshot: BrokerSnapshot, name: str) -> QueueFigures:
    return next(q for q in snapshot.queues if q.name == name)


def test_passive_declarations_give_every_queue_of_the_topology_with_its_ready_messages_and_consumers(broker_url):
    handler = HoldingHandler()
    handler.release.set()
    consumer = EventConsumer(broker_url, CLINIC_TOPOLOGY, TRANSPORT_QUEUE, {"session.booked": handler})
    inspector = queue_inspector(broker_url, CLINIC_TOPOLOGY)
    with running(consumer, name="transport consumer"):
        wait_until_ready(consumer)
        publish_events(broker_url, 3)

        def settled():
            snapshot = inspector.snapshot()
            transport = figures(snapshot, "transport.events")
            return snapshot if transport.ready == 0 and figures(snapshot, "notifications.events").ready == 3 else None

        snapshot = eventually(settled, what="the transport queue drained and the notifications queue holding 3")

    assert snapshot.source == "amqp"
    assert snapshot.reachable and snapshot.error is None
    assert snapshot.taken_at.tzinfo is not None
    assert {q.name for q in snapshot.queues} == EVERY_QUEUE
    assert all(q.exists for q in snapshot.queues)
    transport = figures(snapshot, "transport.events")
    assert (transport.kind, transport.of_queue, transport.consumers) == ("work", "transport.events", 1)
    notifications = figures(snapshot, "notifications.events")
    assert (notifications.ready, notifications.consumers) == (3, 0)
    assert figures(snapshot, "audit.events").ready == 3
    dlq = figures(snapshot, "transport.events.dlq")
    assert (dlq.kind, dlq.of_queue, dlq.ready, dlq.consumers) == ("dead_letters", "transport.events", 0, 0)
    assert figures(snapshot, "notifications.events.retry").kind == "retry"
    # Passive declarations cannot tell these.
    assert all(q.unacknowledged is None and q.publish_rate is None and q.deliver_rate is None for q in snapshot.queues)


def test_a_queue_that_was_never_declared_shows_as_missing_and_the_queues_after_it_are_still_counted(broker_url):
    with pika_channel(broker_url) as channel:
        channel.queue_declare("audit.events", durable=True)
        channel.basic_publish("", "audit.events", b"{}")

    inspector = queue_inspector(broker_url, CLINIC_TOPOLOGY)

    def counted():
        snapshot = inspector.snapshot()
        return snapshot if figures(snapshot, "audit.events").ready == 1 else None

    snapshot = eventually(
        counted,
        what="the one declared queue showing its message",
    )

    assert snapshot.reachable
    missing = [q for q in snapshot.queues if not q.exists]
    assert {q.name for q in missing} == EVERY_QUEUE - {"audit.events"}
    assert all(q.ready is None and q.consumers is None for q in missing)
    audit = figures(snapshot, "audit.events")
    assert audit.exists and audit.ready == 1 and audit.consumers == 0


def test_a_broker_that_is_down_gives_an_unreachable_snapshot_instead_of_an_exception(vhost):
    proxy = BrokerProxy()
    try:
        inspector = queue_inspector(proxy.url(vhost.name), CLINIC_TOPOLOGY, timeout=2.0)
        assert inspector.snapshot().reachable
        proxy.down()
        snapshot = inspector.snapshot()
    finally:
        proxy.close()

    assert snapshot.source == "amqp"
    assert not snapshot.reachable
    assert snapshot.queues == ()
    assert snapshot.error and "guest" not in snapshot.error
    assert snapshot.to_dict()["reachable"] is False


def test_a_closed_port_gives_an_unreachable_snapshot_naming_no_credentials():
    snapshot = queue_inspector(CLOSED_PORT_URL, CLINIC_TOPOLOGY, timeout=2.0).snapshot()

    assert not snapshot.reachable
    assert snapshot.error and "guest" not in snapshot.error and "amqp://" not in snapshot.error


# --- the management API ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def management_url(rabbitmq_server) -> str:
    return ensure_management_plugin()


def management_inspector(broker_url: str, url: str, **overrides):
    options = {"management_user": MANAGEMENT_USER, "management_password": MANAGEMENT_PASSWORD, **overrides}
    return queue_inspector(broker_url, CLINIC_TOPOLOGY, management_url=url, timeout=10.0, **options)


def test_the_management_api_gives_ready_unacknowledged_consumers_and_rates_of_every_queue(broker_url, management_url):
    handler = HoldingHandler()
    consumer = EventConsumer(broker_url, CLINIC_TOPOLOGY, TRANSPORT_QUEUE, {"session.booked": handler})
    inspector = management_inspector(broker_url, management_url)
    try:
        with running(consumer, name="transport consumer"):
            wait_until_ready(consumer)
            publish_events(broker_url, 3)
            eventually(handler.holding.is_set, what="the consumer holding the first event")

            def caught_up():
                snapshot = inspector.snapshot()
                transport = figures(snapshot, "transport.events")
                notifications = figures(snapshot, "notifications.events")
                shows = (
                    (transport.unacknowledged, transport.consumers) == (3, 1)
                    and (notifications.ready, notifications.unacknowledged, notifications.consumers) == (3, 0, 0)
                    and notifications.publish_rate is not None
                )
                return snapshot if shows else None

            snapshot = eventually(
                caught_up, what="the management API showing the held and waiting events", deadline=MANAGEMENT_DEADLINE
            )
            handler.release.set()
    finally:
        handler.release.set()

    assert snapshot.source == "management"
    assert snapshot.reachable and snapshot.error is None
    assert {q.name for q in snapshot.queues} == EVERY_QUEUE
    assert all(q.exists for q in snapshot.queues)
    assert figures(snapshot, "transport.events").ready == 0
    assert figures(snapshot, "transport.events.dlq").kind == "dead_letters"
    for queue in snapshot.queues:
        assert queue.publish_rate is None or isinstance(queue.publish_rate, float), queue
        assert queue.deliver_rate is None or isinstance(queue.deliver_rate, float), queue
    assert snapshot.to_dict()["source"] == "management"


def test_the_management_api_shows_queues_not_declared_yet_as_missing(broker_url, management_url):
    snapshot = management_inspector(broker_url, management_url).snapshot()

    assert snapshot.reachable
    assert {q.name for q in snapshot.queues} == EVERY_QUEUE
    assert not any(q.exists for q in snapshot.queues)


def test_the_management_api_refusing_the_credentials_gives_an_unreachable_snapshot_without_them(
    broker_url, management_url
):
    password = f"wrong-{uuid.uuid4().hex}"
    snapshot = management_inspector(broker_url, management_url, management_password=password).snapshot()

    assert not snapshot.reachable
    assert "401" in snapshot.error
    assert password not in snapshot.error


def test_a_management_api_that_does_not_answer_gives_an_unreachable_snapshot(broker_url):
    snapshot = management_inspector(broker_url, "http://127.0.0.1:1").snapshot()

    assert snapshot.source == "management"
    assert not snapshot.reachable
    assert snapshot.error and MANAGEMENT_PASSWORD not in snapshot.error
