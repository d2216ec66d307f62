"""EventPublisher against the real RabbitMQ: confirmed, persistent, routable, and never hanging."""

import json
import threading

import pika
import pika.exceptions
import pytest
from integration.helpers import (
    CLOSED_PORT_URL,
    DEAD_LETTER_EXCHANGE,
    DEADLINE,
    EVENTS_EXCHANGE,
    drain,
    message_count,
    pika_channel,
    publish_raw,
    queue_exists,
    session_booked_json,
)

from shared.contract import from_json
from shared.messaging import CLINIC_TOPOLOGY, EventPublisher, OutgoingMessage, PublishFailed, Topology, UnroutableEvent
from shared.messaging.broker import connect, declare_topology

pytestmark = pytest.mark.integration


def outgoing(event, body: str) -> OutgoingMessage:
    return OutgoingMessage(event.event_id, event.type, body, event.correlation_id)


@pytest.fixture
def publisher(broker_url):
    publisher = EventPublisher(broker_url, CLINIC_TOPOLOGY)
    yield publisher
    publisher.close()


def test_a_published_event_lands_persistent_as_json_with_its_event_id_in_every_queue_bound_to_its_type(
    broker_url, publisher
):
    event, body = session_booked_json()

    publisher.publish(outgoing(event, body))  # returns only once the broker confirmed it

    for queue in ("transport.events", "notifications.events", "audit.events"):
        messages = drain(broker_url, queue)
        assert len(messages) == 1, f"{queue} should hold the event once; holds {messages!r}"
        message = messages[0]
        assert message.exchange == EVENTS_EXCHANGE
        assert message.routing_key == "session.booked"
        assert message.properties.delivery_mode == 2, "the event must survive a broker restart"
        assert message.properties.content_type == "application/json"
        assert message.properties.message_id == event.event_id
        assert message.properties.correlation_id == event.correlation_id
        assert from_json(message.body) == from_json(body)


def test_events_published_one_after_another_arrive_in_the_order_they_were_published(broker_url, publisher):
    events = [session_booked_json() for _ in range(5)]

    for event, body in events:
        publisher.publish(outgoing(event, body))

    assert [m.properties.message_id for m in drain(broker_url, "audit.events")] == [e.event_id for e, _ in events]


def test_publishing_a_type_that_no_queue_is_bound_to_raises_unroutable_event(broker_url):
    publisher = EventPublisher(broker_url, Topology(queues=()))  # the exchange exists, but nothing is bound to it
    event, body = session_booked_json()
    try:
        with pytest.raises(UnroutableEvent, match="session.booked"):
            publisher.publish(outgoing(event, body))
    finally:
        publisher.close()


def test_an_unroutable_event_does_not_spoil_the_next_routable_one_on_the_same_publisher(broker_url, publisher):
    event, body = session_booked_json()
    stray = OutgoingMessage(event.event_id, "session.teleported", body, event.correlation_id)  # not in the contract

    with pytest.raises(UnroutableEvent):
        publisher.publish(stray)
    publisher.publish(outgoing(event, body))

    assert [m.properties.message_id for m in drain(broker_url, "audit.events")] == [event.event_id]


def test_publishing_to_a_broker_that_is_not_there_raises_publish_failed_instead_of_hanging():
    publisher = EventPublisher(CLOSED_PORT_URL, CLINIC_TOPOLOGY)
    event, body = session_booked_json()
    outcome: list[BaseException | None] = []

    def publish():
        try:
            publisher.publish(outgoing(event, body))
        except BaseException as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    thread = threading.Thread(target=publish, daemon=True)
    thread.start()
    thread.join(DEADLINE)
    publisher.close()
    assert not thread.is_alive(), f"publishing to a closed port still had not returned after {DEADLINE:.0f}s"
    assert outcome and isinstance(outcome[0], PublishFailed), f"expected PublishFailed, got {outcome!r}"
    assert not isinstance(outcome[0], UnroutableEvent)


def test_a_publisher_that_failed_publishes_again_once_the_broker_is_back(broker_url, vhost, publisher):
    first, first_body = session_booked_json()
    publisher.publish(outgoing(first, first_body))
    vhost.close_connections()  # the broker drops the publisher's connection

    second, second_body = session_booked_json()
    try:
        publisher.publish(outgoing(second, second_body))
    except PublishFailed:
        publisher.publish(outgoing(second, second_body))  # the event is still ours to publish again

    ids = [m.properties.message_id for m in drain(broker_url, "audit.events")]
    assert first.event_id in ids and second.event_id in ids, ids


def test_declaring_the_topology_twice_is_harmless_and_keeps_what_the_queues_hold(broker_url):
    with connect(broker_url) as connection:
        declare_topology(connection.channel(), CLINIC_TOPOLOGY)
    event, body = session_booked_json()
    publish_raw(broker_url, body, message_id=event.event_id)

    with connect(broker_url) as connection:
        channel = connection.channel()
        declare_topology(channel, CLINIC_TOPOLOGY)
        declare_topology(channel, CLINIC_TOPOLOGY)
    EventPublisher(broker_url, CLINIC_TOPOLOGY).close()

    assert message_count(broker_url, "transport.events") == 1
    with pika_channel(broker_url) as channel:
        channel.exchange_declare(EVENTS_EXCHANGE, exchange_type="topic", durable=True, passive=True)
        channel.exchange_declare(DEAD_LETTER_EXCHANGE, exchange_type="direct", durable=True, passive=True)


def test_declaring_the_topology_creates_a_dead_letter_queue_for_each_consumer_queue_bound_to_the_dlx_by_queue_name(
    broker_url,
):
    with connect(broker_url) as connection:
        declare_topology(connection.channel(), CLINIC_TOPOLOGY)
        declare_topology(connection.channel(), CLINIC_TOPOLOGY)

    assert queue_exists(broker_url, "transport.events.dlq")
    assert queue_exists(broker_url, "notifications.events.dlq")
    assert not queue_exists(broker_url, "audit.events.dlq"), "audit.events keeps no dead letters"

    for queue in ("transport.events", "notifications.events"):
        publish_raw(broker_url, json.dumps({"to": queue}), exchange=DEAD_LETTER_EXCHANGE, routing_key=queue)
    assert [m.document for m in drain(broker_url, "transport.events.dlq")] == [{"to": "transport.events"}]
    assert [m.document for m in drain(broker_url, "notifications.events.dlq")] == [{"to": "notifications.events"}]


def test_a_message_the_broker_itself_dead_letters_lands_in_the_queues_dead_letter_queue(broker_url):
    with connect(broker_url) as connection:
        declare_topology(connection.channel(), CLINIC_TOPOLOGY)
    event, body = session_booked_json()
    publish_raw(broker_url, body, message_id=event.event_id)

    with pika_channel(broker_url) as channel:
        method, _, _ = channel.basic_get("transport.events", auto_ack=False)
        assert method is not None
        channel.basic_reject(method.delivery_tag, requeue=False)

    dead = drain(broker_url, "transport.events.dlq")
    assert [m.properties.message_id for m in dead] == [event.event_id]
    assert message_count(broker_url, "transport.events") == 0


def test_publishing_to_the_dlx_with_a_key_no_queue_has_is_unroutable(broker_url):
    with connect(broker_url) as connection:
        declare_topology(connection.channel(), CLINIC_TOPOLOGY)
    with pytest.raises(pika.exceptions.UnroutableError):
        publish_raw(broker_url, b"{}", exchange=DEAD_LETTER_EXCHANGE, routing_key="audit.events")
