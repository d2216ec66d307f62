"""On the embedded default (kombu's in-memory transport, which knows no TTL), an event whose handler fails for a
passing reason still comes back after its delay and is handled, as it would through RabbitMQ's retry queue."""

import threading
import time
import uuid

from integration.helpers import eventually, session_booked

from shared.contract import SESSION_BOOKED, to_json
from shared.messaging import EventConsumer, EventPublisher, OutgoingMessage, RetryPolicy
from shared.messaging.topology import QueueSpec, Topology


def own_topology() -> tuple[Topology, QueueSpec]:
    """Names of this test's own: the in-memory broker is one per process, shared by every test."""
    tag = uuid.uuid4().hex[:8]
    queue = QueueSpec(f"work-{tag}", binds=(SESSION_BOOKED,))
    return Topology(exchange=f"events-{tag}", dead_letter_exchange=f"dlx-{tag}", queues=(queue,)), queue


class FailingThenWorking:
    def __init__(self, failures: int):
        self.failures = failures
        self.calls: list[float] = []
        self.handled: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, event) -> None:
        with self.lock:
            self.calls.append(time.monotonic())
            if len(self.calls) <= self.failures:
                raise ConnectionError("database restarting")
            self.handled.append(event.event_id)


def test_an_event_failing_three_rounds_on_the_in_memory_broker_comes_back_after_each_delay_and_is_handled_once():
    topology, queue = own_topology()
    handler = FailingThenWorking(failures=3)
    policy = RetryPolicy(attempts=1, delays=(0.2,), window=60)
    consumer = EventConsumer("memory://", topology, queue, {SESSION_BOOKED.name: handler}, retry=policy)
    thread = threading.Thread(target=consumer.run_until_stopped, daemon=True)
    thread.start()
    publisher = EventPublisher("memory://", topology)
    try:
        eventually(consumer.ready.is_set, what="the consumer getting ready")
        event = session_booked().stamped_by("scheduler")
        publisher.publish(OutgoingMessage(event.event_id, event.type, to_json(event), event.correlation_id))
        eventually(lambda: handler.handled, what="the event being handled after three failed rounds")
    finally:
        publisher.close()
        consumer.stop()
        thread.join(10)

    assert handler.handled == [event.event_id]
    assert len(handler.calls) == 4
    gaps = [later - earlier for earlier, later in zip(handler.calls, handler.calls[1:], strict=False)]
    assert all(gap >= 0.2 for gap in gaps), f"each round waited out its delay: {gaps}"
    assert not thread.is_alive()
