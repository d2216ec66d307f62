"""EventConsumer against the real RabbitMQ: acks after the handler, bounded retries, dead letters, reconnection."""

import threading
from dataclasses import dataclass, field

import pytest
from integration.helpers import (
    QueueReader,
    eventually,
    message_count,
    publish_raw,
    running,
    session_booked_json,
    tampered,
    wait_until_ready,
)

from shared.contract import Event, from_json, to_json
from shared.messaging import CLINIC_TOPOLOGY, EventConsumer, PoisonMessage, RetryPolicy
from shared.messaging.topology import TRANSPORT_QUEUE

pytestmark = pytest.mark.integration

FAST_RETRY = RetryPolicy(attempts=3, initial_delay=0.05, max_delay=0.1, delays=(0.3, 0.6), window=600)
QUEUE = "transport.events"
DLQ = "transport.events.dlq"
RETRY_QUEUE = "transport.events.retry"


@dataclass
class FakeHandler:
    """Records every call; ``failures`` decides, per call, what it raises (None: succeed)."""

    failures: list = field(default_factory=list)
    calls: list[Event] = field(default_factory=list)
    handled: list[Event] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: Event) -> None:
        with self.lock:
            attempt = len(self.calls)
            self.calls.append(event)
            failure = self.failures[attempt] if attempt < len(self.failures) else None
            if failure is not None:
                raise failure
            self.handled.append(event)

    def calls_for(self, event_id: str) -> list[Event]:
        with self.lock:
            return [e for e in self.calls if e.event_id == event_id]

    def handled_ids(self) -> list[str]:
        with self.lock:
            return [e.event_id for e in self.handled]


def transport_consumer(broker_url: str, handler, retry: RetryPolicy = FAST_RETRY) -> EventConsumer:
    return EventConsumer(broker_url, CLINIC_TOPOLOGY, TRANSPORT_QUEUE, {"session.booked": handler}, retry=retry)


def publish_event(broker_url: str, **overrides):
    event, body = session_booked_json(**overrides)
    publish_raw(broker_url, body, message_id=event.event_id)
    return event


def wait_handled(handler: FakeHandler, event: Event, what: str = "the handler handling the event") -> None:
    eventually(lambda: event.event_id in handler.handled_ids(), what=what)


def test_a_valid_event_is_handed_to_its_handler_and_acked(broker_url):
    handler = FakeHandler()
    consumer = transport_consumer(broker_url, handler)
    with running(consumer, name="consumer"):
        wait_until_ready(consumer)
        event = publish_event(broker_url)
        wait_handled(handler, event)
    # The consumer's connection is closed now: an unacked message would be back in the queue.

    assert len(handler.calls) == 1
    received = handler.calls[0]
    # What crossed the broker is the event as its schema reads it: optional fields it left out come back as None.
    assert received == from_json(to_json(event))
    assert {key: received.data[key] for key in event.data} == event.data
    assert message_count(broker_url, QUEUE) == 0
    assert message_count(broker_url, DLQ) == 0


def test_events_waiting_in_the_queue_before_the_consumer_starts_are_all_handled(broker_url):
    handler = FakeHandler()
    first = transport_consumer(broker_url, handler)
    with running(first, name="consumer"):  # declares the topology
        wait_until_ready(first)
    events = [publish_event(broker_url) for _ in range(15)]  # more than the prefetch count

    consumer = transport_consumer(broker_url, handler)
    with running(consumer, name="consumer"):
        eventually(lambda: len(handler.handled_ids()) == len(events), what="all 15 waiting events being handled")

    assert handler.handled_ids() == [e.event_id for e in events]
    assert message_count(broker_url, QUEUE) == 0


def test_a_message_that_is_not_json_is_dead_lettered_with_the_reason_and_the_next_valid_event_is_still_handled(
    broker_url,
):
    handler = FakeHandler()
    consumer = transport_consumer(broker_url, handler)
    dlq = QueueReader(broker_url, DLQ)
    with running(consumer, name="consumer"):
        wait_until_ready(consumer)
        publish_raw(broker_url, b"this is not JSON {", message_id="garbage-1")
        dead = dlq.wait_for_count(1, what="the malformed message reaching the dead-letter queue")
        event = publish_event(broker_url)
        wait_handled(handler, event, "the valid event after the malformed one being handled")

    assert len(dead) == 1
    assert dead[0].body == b"this is not JSON {"
    assert "not JSON" in dead[0].reason
    assert dead[0].headers["x-original-queue"] == QUEUE
    assert dead[0].headers["x-original-routing-key"] == "session.booked"
    assert dead[0].properties.message_id == "garbage-1"
    assert dead[0].properties.delivery_mode == 2
    assert [e.event_id for e in handler.calls] == [event.event_id], "the handler never sees a malformed message"
    assert message_count(broker_url, QUEUE) == 0


def test_a_message_whose_content_type_is_not_json_is_dead_lettered_saying_so(broker_url):
    handler = FakeHandler()
    consumer = transport_consumer(broker_url, handler)
    dlq = QueueReader(broker_url, DLQ)
    _, body = session_booked_json()
    with running(consumer, name="consumer"):
        wait_until_ready(consumer)
        publish_raw(broker_url, body, content_type="text/plain")
        dead = dlq.wait_for_count(1, what="the text/plain message reaching the dead-letter queue")

    assert "text/plain" in dead[0].reason
    assert dead[0].body == body.encode()
    assert handler.calls == []


def test_a_session_booked_event_without_its_chair_is_dead_lettered_naming_the_missing_field(broker_url):
    handler = FakeHandler()
    consumer = transport_consumer(broker_url, handler)
    dlq = QueueReader(broker_url, DLQ)
    event, body = session_booked_json()
    without_chair = tampered(body, lambda document: document["data"].pop("chair_id"))
    with running(consumer, name="consumer"):
        wait_until_ready(consumer)
        publish_raw(broker_url, without_chair, message_id=event.event_id)
        dead = dlq.wait_for_count(1, what="the event without chair_id reaching the dead-letter queue")
        valid = publish_event(broker_url)
        wait_handled(handler, valid, "the next valid event being handled")

    assert dead[0].properties.message_id == event.event_id
    assert "chair_id" in dead[0].reason
    assert "session.booked" in dead[0].reason
    assert [e.event_id for e in handler.calls] == [valid.event_id]


def test_an_event_of_a_version_the_contract_does_not_know_is_dead_lettered(broker_url):
    handler = FakeHandler()
    consumer = transport_consumer(broker_url, handler)
    dlq = QueueReader(broker_url, DLQ)
    event, body = session_booked_json()
    version_two = tampered(body, lambda document: document.update(version=2))
    with running(consumer, name="consumer"):
        wait_until_ready(consumer)
        publish_raw(broker_url, version_two, message_id=event.event_id)
        dead = dlq.wait_for_count(1, what="the version 2 event reaching the dead-letter queue")

    assert "version 2" in dead[0].reason
    assert "not supported" in dead[0].reason
    assert handler.calls == []


def test_an_event_of_a_type_the_queue_has_no_handler_for_is_dead_lettered(broker_url):
    handler = FakeHandler()
    consumer = transport_consumer(broker_url, handler)  # handles session.booked only, though session.cancelled is bound
    dlq = QueueReader(broker_url, DLQ)
    cancelled = (
        '{"event_id":"7b0f7a3e-4a43-4b6e-9f4e-1e8f4a8f6b11","type":"session.cancelled","version":1,'
        '"occurred_at":"2031-03-01T12:00:00+00:00","producer":"scheduler","correlation_id":"s-1",'
        '"data":{"session_id":"s-1","patient_id":"p-1","reason":null,"cancelled_at":"2031-03-01T12:00:00+00:00"}}'
    )
    with running(consumer, name="consumer"):
        wait_until_ready(consumer)
        publish_raw(broker_url, cancelled, routing_key="session.cancelled")
        dead = dlq.wait_for_count(1, what="the session.cancelled event reaching the dead-letter queue")

    assert "no handler for session.cancelled" in dead[0].reason
    assert dead[0].headers["x-original-routing-key"] == "session.cancelled"


def test_a_handler_refusing_an_event_as_poison_gets_it_dead_lettered_at_once(broker_url):
    handler = FakeHandler(failures=[PoisonMessage("session s-404 does not exist")])
    consumer = transport_consumer(broker_url, handler)
    dlq = QueueReader(broker_url, DLQ)
    with running(consumer, name="consumer"):
        wait_until_ready(consumer)
        event = publish_event(broker_url)
        dead = dlq.wait_for_count(1, what="the refused event reaching the dead-letter queue")

    assert len(handler.calls_for(event.event_id)) == 1, "a poison message is not retried"
    assert dead[0].properties.message_id == event.event_id
    assert dead[0].reason == "refused: session s-404 does not exist"
    assert dead[0].properties.content_type == "application/json"
    assert message_count(broker_url, QUEUE) == 0


def test_a_handler_failing_twice_with_a_transient_error_then_succeeding_is_acked_once_without_dead_letter(broker_url):
    handler = FakeHandler(failures=[ConnectionError("database restarting"), TimeoutError("database busy")])
    consumer = transport_consumer(broker_url, handler)
    with running(consumer, name="consumer"):
        wait_until_ready(consumer)
        event = publish_event(broker_url)
        wait_handled(handler, event, "the event being handled on the third attempt")
        later = publish_event(broker_url)  # handled after the first was acked, on the same channel
        wait_handled(handler, later, "the next event being handled")

    assert len(handler.calls_for(event.event_id)) == 3
    assert handler.handled_ids() == [event.event_id, later.event_id], "the effect happens once"
    assert message_count(broker_url, QUEUE) == 0, "acked, so not redelivered after the consumer left"
    assert message_count(broker_url, DLQ) == 0


def test_a_handler_still_failing_when_the_retry_window_has_passed_is_dead_lettered_naming_the_failure_by_type_only(
    broker_url,
):
    handler = FakeHandler(failures=[RuntimeError("chair registry unreachable for Ann Lee")] * 1000)
    policy = RetryPolicy(attempts=2, initial_delay=0.05, max_delay=0.1, delays=(0.2,), window=1.5)
    consumer = transport_consumer(broker_url, handler, retry=policy)
    dlq = QueueReader(broker_url, DLQ)
    with running(consumer, name="consumer"):
        wait_until_ready(consumer)
        event = publish_event(broker_url)
        dead = dlq.wait_for_count(1, what="the failing event reaching the dead-letter queue after its window")

    calls = len(handler.calls_for(event.event_id))
    assert calls >= 2 * 3, f"several rounds of {policy.attempts} attempts were made before giving up, not {calls}"
    assert dead[0].properties.message_id == event.event_id
    assert dead[0].reason.startswith("still failing after ")
    assert "RuntimeError" in dead[0].reason
    assert "Ann Lee" not in repr(dead[0].headers), "a failure is named by its type, never by its text"
    assert dead[0].headers["x-original-routing-key"] == "session.booked"
    assert dead[0].headers["x-retry-rounds"] >= 3
    assert from_json(dead[0].body).event_id == event.event_id, "the dead letter is the event itself, intact"
    assert message_count(broker_url, QUEUE) == 0
    assert message_count(broker_url, RETRY_QUEUE) == 0
    assert handler.handled == []


def test_after_the_broker_closes_its_connection_the_consumer_reconnects_and_handles_the_next_event(broker_url, vhost):
    handler = FakeHandler()
    consumer = transport_consumer(broker_url, handler)
    with running(consumer, name="consumer") as thread:
        wait_until_ready(consumer)
        before = publish_event(broker_url)
        wait_handled(handler, before, "the event before the disconnection being handled")

        vhost.close_connections()
        eventually(consumer.ready.is_set, what="the consumer being ready again after the disconnection")
        after = publish_event(broker_url)
        wait_handled(handler, after, "the event published after the disconnection being handled")
        assert thread.is_alive()

    assert handler.handled_ids() == [before.event_id, after.event_id]
    assert message_count(broker_url, QUEUE) == 0


def test_a_consumer_reconnects_after_repeated_disconnections(broker_url, vhost):
    handler = FakeHandler()
    consumer = transport_consumer(broker_url, handler)
    handled = []
    with running(consumer, name="consumer"):
        wait_until_ready(consumer)
        for round_ in range(3):
            vhost.close_connections()
            eventually(consumer.ready.is_set, what=f"the consumer being ready after disconnection {round_ + 1}")
            event = publish_event(broker_url)
            handled.append(event.event_id)
            wait_handled(handler, event, f"the event after disconnection {round_ + 1} being handled")

    assert handler.handled_ids() == handled
    assert message_count(broker_url, QUEUE) == 0


def test_a_consumer_configured_for_a_type_its_queue_is_not_bound_to_is_refused(broker_url):
    with pytest.raises(ValueError, match="ride.requested"):
        EventConsumer(broker_url, CLINIC_TOPOLOGY, TRANSPORT_QUEUE, {"ride.requested": FakeHandler()})


class RecordingObserver:
    """A hand-written ConsumerObserver: what the consumer reported, in order."""

    def __init__(self):
        self.outcomes: list[tuple[str, str]] = []
        self.failures: list[str] = []

    def consumed(self, event_type: str, outcome: str, seconds: float) -> None:
        self.outcomes.append((event_type, outcome))

    def failed(self, event_type: str) -> None:
        self.failures.append(event_type)


def test_the_observer_hears_each_outcome_by_type_and_a_routing_key_sent_by_hand_as_unknown(broker_url):
    observer = RecordingObserver()
    consumer = EventConsumer(
        broker_url,
        CLINIC_TOPOLOGY,
        TRANSPORT_QUEUE,
        {"session.booked": FakeHandler(failures=[PoisonMessage("no such session")])},
        retry=FAST_RETRY,
        observer=observer,
    )
    with running(consumer):
        wait_until_ready(consumer)
        refused = publish_event(broker_url)
        handled = publish_event(broker_url)
        # Straight into the queue, claiming a routing key no queue is bound to: it must not become a metric label.
        made_up, body = session_booked_json()
        publish_raw(
            broker_url,
            body,
            exchange="",
            routing_key=QUEUE,
            message_id=made_up.event_id,
            headers={"x-original-routing-key": "made.up.type"},
        )
        eventually(lambda: len(observer.outcomes) == 3, what="three outcomes reported")

    assert refused.event_id != handled.event_id
    assert observer.outcomes == [
        ("session.booked", "dead_lettered"),
        ("session.booked", "handled"),
        ("unknown", "dead_lettered"),
    ]
    assert observer.failures == [], "a refusal is not a failed attempt"
