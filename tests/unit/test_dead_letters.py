"""Dead letters: what is read from a message's headers, what a replayed copy keeps, and the in-memory broker.

The same operations against the real RabbitMQ are in tests/integration/test_dead_letters.py.
"""

import threading
import uuid
from datetime import datetime

import pytest
from integration.helpers import eventually, session_booked

from shared.contract import SESSION_BOOKED, to_json
from shared.messaging import EventConsumer, EventPublisher, OutgoingMessage, PoisonMessage
from shared.messaging.dead_letters import DeadLetters, UnknownDeadLetterQueue, read_dead_letter, replayed_headers
from shared.messaging.topology import CLINIC_TOPOLOGY, QueueSpec, Topology

CONSUMER_HEADERS = {
    "x-original-routing-key": "session.booked",
    "x-original-queue": "transport.events",
    "x-dead-letter-reason": "still failing after 3600s of retries: OperationalError",
    "x-dead-letter-count": 2,
    "x-dead-lettered-at": "2026-12-01T10:00:00+00:00",
    "x-retry-rounds": 61,
    "x-first-failed-at": 1764579600.0,
    "x-last-failure": "OperationalError",
}
PROPERTIES = {"message_id": "event-1", "type": "session.booked", "correlation_id": "session-1"}


def test_a_dead_letter_is_read_from_the_consumer_s_headers_and_the_message_s_properties():
    letter = read_dead_letter(b"{}", PROPERTIES, CONSUMER_HEADERS, "transport.events")

    assert letter.to_dict() == {
        "event_id": "event-1",
        "type": "session.booked",
        "session_id": "session-1",
        "reason": "still failing after 3600s of retries: OperationalError",
        "times_dead_lettered": 2,
        "retry_rounds": 61,
        "original_queue": "transport.events",
        "dead_lettered_at": "2026-12-01T10:00:00+00:00",
        "first_failed_at": "2025-12-01T09:00:00+00:00",
    }


def test_a_message_the_broker_dead_lettered_is_read_from_its_x_death_header_ignoring_its_retry_queue_entries():
    headers = {
        "x-death": [
            {
                "queue": "transport.events",
                "reason": "rejected",
                "count": 1,
                "time": datetime(2026, 12, 1, 9, 30),
                "exchange": "clinic.events",
                "routing-keys": ["session.booked"],
            },
            {
                "queue": "transport.events.retry",
                "reason": "expired",
                "count": 4,
                "exchange": "",
                "routing-keys": ["transport.events.retry"],
            },
        ]
    }

    letter = read_dead_letter(b"{}", {"message_id": "event-2"}, headers, "transport.events")

    assert letter.reason == "dead-lettered by the broker (rejected)"
    assert letter.times_dead_lettered == 1
    assert letter.dead_lettered_at == "2026-12-01T09:30:00+00:00"
    assert letter.type == "session.booked"


def test_a_dead_letter_dead_lettered_by_the_consumer_and_by_the_broker_counts_both():
    headers = {**CONSUMER_HEADERS, "x-death": [{"queue": "transport.events", "reason": "rejected", "count": 2}]}

    assert read_dead_letter(b"", PROPERTIES, headers, "transport.events").times_dead_lettered == 4


def test_without_properties_the_ids_and_type_come_from_the_event_s_own_document():
    event = session_booked()

    letter = read_dead_letter(to_json(event).encode(), {}, {}, "transport.events")

    assert (letter.event_id, letter.type, letter.session_id) == (event.event_id, "session.booked", event.correlation_id)
    assert (letter.reason, letter.times_dead_lettered, letter.retry_rounds) == (None, 0, 0)


@pytest.mark.parametrize("body", [b"not JSON {", b"\xff\xfe", b"[1, 2]", b'{"event_id": 7}', b"", None])
def test_a_message_that_carries_no_id_at_all_is_known_by_an_empty_one(body):
    letter = read_dead_letter(body, {}, {"x-original-routing-key": "session.booked"}, "transport.events")

    assert letter.event_id == ""
    assert letter.type == "session.booked"


def test_a_replayed_copy_leaves_the_reason_and_the_retry_history_behind_and_keeps_what_it_is_and_how_often():
    headers = replayed_headers({**CONSUMER_HEADERS, "x-custom": "kept"}, "transport.events")

    assert headers == {
        "x-original-routing-key": "session.booked",
        "x-original-queue": "transport.events",
        "x-dead-letter-count": 2,
        "x-dead-lettered-at": "2026-12-01T10:00:00+00:00",
        "x-custom": "kept",
    }


def test_a_replayed_copy_of_a_message_the_broker_dead_lettered_gets_its_original_routing_key_from_x_death():
    death = {"queue": "transport.events", "reason": "rejected", "count": 1, "routing-keys": ["session.booked"]}

    headers = replayed_headers({"x-death": [death]}, "transport.events")

    assert headers["x-original-routing-key"] == "session.booked"
    assert headers["x-original-queue"] == "transport.events"
    assert headers["x-death"] == [death]


def test_only_the_topology_s_dead_letter_queues_are_accepted():
    dead_letters = DeadLetters("memory://", CLINIC_TOPOLOGY)

    assert dead_letters.queues() == ("scheduler.events.dlq", "transport.events.dlq", "notifications.events.dlq")
    for name in ("transport.events", "audit.events.dlq", "transport.events.retry"):
        with pytest.raises(UnknownDeadLetterQueue):
            dead_letters.list(name)


def test_an_empty_selection_does_nothing():
    outcome = DeadLetters("memory://", CLINIC_TOPOLOGY).discard("transport.events.dlq", [], reason="none")

    assert (outcome.done, outcome.not_found) == ((), ())


# --- the in-memory broker of the embedded default ---------------------------------------------------------------


def test_on_the_in_memory_broker_dead_letters_are_listed_in_order_replayed_to_their_queue_and_discarded():
    tag = uuid.uuid4().hex[:8]  # the in-memory broker is shared by every test of the process
    work = QueueSpec(f"work-{tag}", binds=(SESSION_BOOKED,))
    topology = Topology(exchange=f"events-{tag}", dead_letter_exchange=f"dlx-{tag}", queues=(work,))
    handled: list[str] = []
    refusing = threading.Event()
    refusing.set()

    def handler(event) -> None:
        if refusing.is_set():
            raise PoisonMessage("no such session")
        handled.append(event.event_id)

    consumer = EventConsumer("memory://", topology, work, {SESSION_BOOKED.name: handler})
    thread = threading.Thread(target=consumer.run_until_stopped, daemon=True)
    thread.start()
    publisher = EventPublisher("memory://", topology)
    dead_letters = DeadLetters("memory://", topology)
    try:
        eventually(consumer.ready.is_set, what="the consumer getting ready")
        events = [session_booked() for _ in range(4)]
        for event in events:
            publisher.publish(OutgoingMessage(event.event_id, event.type, to_json(event), event.correlation_id))
        eventually(lambda: len(dead_letters.list(work.dead_letter_queue)) == 4, what="four dead letters")

        listed = dead_letters.list(work.dead_letter_queue)
        first_two = dead_letters.list(work.dead_letter_queue, limit=2)
        refusing.clear()
        replayed = dead_letters.replay(work.dead_letter_queue, [events[2].event_id, "no-such-event"])
        eventually(lambda: handled == [events[2].event_id], what="the replayed event handled")
        discarded = dead_letters.discard(work.dead_letter_queue, [events[0].event_id], reason="duplicate")
        left = dead_letters.list(work.dead_letter_queue)
    finally:
        publisher.close()
        consumer.stop()
        thread.join(10)

    assert [letter.event_id for letter in listed] == [e.event_id for e in events]
    assert all(letter.reason == "refused: no such session" for letter in listed)
    assert [letter.session_id for letter in listed] == [e.correlation_id for e in events]
    assert [letter.event_id for letter in first_two] == [e.event_id for e in events[:2]]
    assert (replayed.done, replayed.not_found) == ((events[2].event_id,), ("no-such-event",))
    assert discarded.done == (events[0].event_id,)
    assert [letter.event_id for letter in left] == [events[1].event_id, events[3].event_id]
    assert not thread.is_alive()
