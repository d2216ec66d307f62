"""EventConsumer on the real RabbitMQ when things go wrong in numbers: outages wait in the retry queue instead of
dead-lettering, bursts of poison leave nothing unacknowledged, misrouted events are poison, and a consumer holding
a message too long says it is stuck."""

import json
import threading
import uuid
from datetime import UTC, datetime

import pytest
from integration.helpers import (
    QueueReader,
    eventually,
    message_count,
    publish_burst,
    publish_raw,
    running,
    session_booked_json,
    unsettled,
    wait_until_ready,
)
from integration.test_consumer import DLQ, QUEUE, RETRY_QUEUE, publish_event, transport_consumer

from shared.contract import SESSION_CANCELLED, new_event, to_json
from shared.messaging import PoisonMessage, RetryPolicy

pytestmark = pytest.mark.integration


class Dependency:
    """A handler whose dependency (an API, a database) is down until the test brings it back."""

    def __init__(self):
        self.down = True
        self.calls: list[str] = []
        self.handled: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, event) -> None:
        with self.lock:
            self.calls.append(event.event_id)
            if self.down:
                raise ConnectionError("scheduler API unreachable")
            self.handled.append(event.event_id)


def test_an_event_failing_while_its_dependency_is_down_waits_in_the_retry_queue_not_the_consumer_and_is_handled_once_it_is_back(
    broker_url, vhost
):
    dependency = Dependency()
    policy = RetryPolicy(attempts=2, initial_delay=0.05, max_delay=0.1, delays=(0.5, 1.0, 2.0), window=600)
    consumer = transport_consumer(broker_url, dependency, retry=policy)
    with running(consumer, name="consumer"):
        wait_until_ready(consumer)
        event = publish_event(broker_url)
        # Each round's wait is short, and rabbitmqctl slow: the message may be back in the consumer's hands for its
        # next round by the time unsettled() answers. A consumer that held it while it waits would never show 0.
        eventually(
            lambda: message_count(broker_url, RETRY_QUEUE) == 1 and unsettled(vhost.name, QUEUE) == 0,
            what="the failing event waiting in the retry queue, the consumer holding nothing unacknowledged",
        )
        eventually(
            lambda: dependency.calls.count(event.event_id) >= 3 * policy.attempts, what="three rounds of attempts"
        )
        assert message_count(broker_url, DLQ) == 0, "a dependency that is down does not make an event poison"

        dependency.down = False
        eventually(
            lambda: event.event_id in dependency.handled, what="the event being handled once the dependency is back"
        )

    assert dependency.handled == [event.event_id]
    assert message_count(broker_url, QUEUE) == 0
    assert message_count(broker_url, RETRY_QUEUE) == 0
    assert message_count(broker_url, DLQ) == 0


def test_a_burst_of_poison_refused_and_expired_events_all_reach_the_dead_letter_queue_and_leave_nothing_unacknowledged(
    broker_url, vhost
):
    refused = {str(uuid.uuid4()) for _ in range(5)}
    expired = {str(uuid.uuid4()) for _ in range(5)}

    def handler(event):
        if event.data["session_id"] in refused:
            raise PoisonMessage("no such session")
        if event.data["session_id"] in expired:
            raise TimeoutError("scheduler API timed out")

    policy = RetryPolicy(attempts=2, initial_delay=0.05, max_delay=0.1, delays=(0.2,), window=1.0)
    consumer = transport_consumer(broker_url, handler, retry=policy)
    dlq = QueueReader(broker_url, DLQ)
    garbage = [(f"garbage-{n}", "{not json") for n in range(4)]
    events = [session_booked_json(session_id=session_id) for session_id in [*refused, *expired]]
    with running(consumer, name="consumer"):
        wait_until_ready(consumer)
        publish_burst(broker_url, [*garbage, *[(event.event_id, body) for event, body in events]])
        dead = dlq.wait_for_count(14, what="all 14 failing messages reaching the dead-letter queue")
        valid = publish_event(broker_url)
        eventually(lambda: unsettled(vhost.name, QUEUE) == 0, what="the work queue holding nothing at all")
        still_consuming = consumer.status()

    assert sorted(m.properties.message_id for m in dead) == sorted(
        [m for m, _ in garbage] + [event.event_id for event, _ in events]
    )
    reasons = {m.properties.message_id: m.reason for m in dead}
    assert all("not JSON" in reasons[m] for m, _ in garbage)
    assert all(reasons[e.event_id] == "refused: no such session" for e, _ in events if e.data["session_id"] in refused)
    assert all(reasons[e.event_id].startswith("still failing") for e, _ in events if e.data["session_id"] in expired)
    assert message_count(broker_url, RETRY_QUEUE) == 0
    assert still_consuming["consuming"] is True and still_consuming["last_handled"]["event_id"] == valid.event_id


def test_an_event_published_under_a_routing_key_other_than_its_type_is_dead_lettered_and_not_handled(broker_url):
    handled = []
    consumer = transport_consumer(broker_url, handled.append)
    dlq = QueueReader(broker_url, DLQ)
    cancelled = new_event(
        SESSION_CANCELLED,
        {
            "session_id": "s-1",
            "patient_id": "p-1",
            "reason": "patient_request",
            "cancelled_at": datetime(2030, 1, 1, 10, tzinfo=UTC),
        },
        correlation_id="s-1",
    ).stamped_by("scheduler")
    with running(consumer, name="consumer"):
        wait_until_ready(consumer)
        publish_raw(broker_url, to_json(cancelled), routing_key="session.booked", message_id=cancelled.event_id)
        dead = dlq.wait_for_count(1, what="the misrouted event reaching the dead-letter queue")

    assert handled == []
    assert dead[0].reason == "sent with routing key 'session.booked' but its type is session.cancelled"
    assert json.loads(dead[0].body)["event_id"] == cancelled.event_id


def test_a_consumer_holding_one_message_longer_than_allowed_reports_itself_stuck_until_it_lets_go(broker_url):
    release = threading.Event()
    consumer = transport_consumer(broker_url, lambda event: release.wait(60))
    consumer.stuck_after = 0.5
    with running(consumer, name="consumer"):
        wait_until_ready(consumer)
        assert consumer.status()["consuming"] is True
        publish_event(broker_url)
        stuck = eventually(
            lambda: consumer.status()["stuck"] and consumer.status(), what="the consumer reporting stuck"
        )
        release.set()
        eventually(
            lambda: consumer.status()["consuming"], what="the consumer consuming again once the handler returned"
        )

    assert stuck["consuming"] is False
    assert stuck["stuck_for_seconds"] >= 0.5
