"""How fast ops can read and replay a dead-letter queue, next to a baseline measured in the same run.

    .venv/bin/python bench/dead_letters.py [--messages 2000]

Needs the local RabbitMQ (a throw-away vhost is made with rabbitmqctl).
Figures, each on a dead-letter queue of ``--messages`` events as the consumer leaves them (reason, counts, headers):
- baseline: pika moving every message back by hand (basic.get, publish with a confirm, ack): the least a replay
  that loses nothing must do;
- ``DeadLetters.list``: read every message (and put it back) with its type, ids and reason;
- ``DeadLetters.replay`` of all: each copy confirmed before its dead letter is acked;
- ``DeadLetters.replay`` of one id in a full queue: the cost of a single replay from the ops page.
"""

import argparse
import platform
import sys
import time
from datetime import datetime
from pathlib import Path

import pika

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from infrastructure import Vhost, ensure_rabbitmq  # noqa: E402
from integration.helpers import session_booked  # noqa: E402

from shared.contract import to_json  # noqa: E402
from shared.messaging import CLINIC_TOPOLOGY, EventPublisher, OutgoingMessage  # noqa: E402
from shared.messaging.dead_letters import DeadLetters  # noqa: E402

WORK_QUEUE = "transport.events"
DEAD_LETTER_QUEUE = "transport.events.dlq"


def fill_dead_letter_queue(url: str, events) -> None:
    """Dead letters as the consumer writes them: the original's properties and the headers that say why."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.confirm_delivery()
    for event in events:
        channel.basic_publish(
            "clinic.dlx",
            WORK_QUEUE,
            to_json(event).encode(),
            pika.BasicProperties(
                content_type="application/json",
                delivery_mode=2,
                message_id=event.event_id,
                correlation_id=event.correlation_id,
                headers={
                    "x-dead-letter-reason": "refused: the session is unknown",
                    "x-original-routing-key": event.type,
                    "x-original-queue": WORK_QUEUE,
                    "x-dead-letter-count": 1,
                    "x-dead-lettered-at": "2026-12-02T08:00:00+00:00",
                },
            ),
        )
    connection.close()


def purge(url: str, *queues: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    for queue in queues:
        channel.queue_purge(queue)
    connection.close()


def depth(url: str, queue: str, *, expected: int | None = None) -> int:
    """Ready messages; waits a little for ``expected``: messages put back by a closing connection settle async."""
    for _ in range(50):
        count = _depth(url, queue)
        if expected is None or count == expected:
            return count
        time.sleep(0.1)
    return count


def _depth(url: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    count = connection.channel().queue_declare(queue, passive=True).method.message_count
    connection.close()
    return count


def baseline_move_by_hand(url: str) -> float:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.confirm_delivery()
    started = time.perf_counter()
    while True:
        method, properties, body = channel.basic_get(DEAD_LETTER_QUEUE, auto_ack=False)
        if method is None:
            break
        channel.basic_publish("", WORK_QUEUE, body, properties)
        channel.basic_ack(method.delivery_tag)
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def timed(action) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    n = parser.parse_args().messages
    ensure_rabbitmq()
    rows: list[tuple[str, float, float]] = []
    with Vhost() as vhost:
        url = vhost.url
        EventPublisher(url, CLINIC_TOPOLOGY).close()
        warm = session_booked()
        EventPublisher(url, CLINIC_TOPOLOGY).publish(OutgoingMessage(warm.event_id, warm.type, to_json(warm), "w"))
        purge(url, WORK_QUEUE, DEAD_LETTER_QUEUE, "notifications.events", "audit.events")
        dead_letters = DeadLetters(url, CLINIC_TOPOLOGY)

        events = [session_booked() for _ in range(n)]
        fill_dead_letter_queue(url, events)
        elapsed = baseline_move_by_hand(url)
        assert depth(url, WORK_QUEUE, expected=n) == n and depth(url, DEAD_LETTER_QUEUE, expected=0) == 0
        rows.append(("baseline: pika get + confirmed publish + ack, by hand", elapsed, n / elapsed))
        purge(url, WORK_QUEUE)

        fill_dead_letter_queue(url, events)
        elapsed, listed = timed(lambda: dead_letters.list(DEAD_LETTER_QUEUE, limit=n))
        assert len(listed) == n and depth(url, DEAD_LETTER_QUEUE, expected=n) == n  # type: ignore[arg-type]
        rows.append(("DeadLetters.list: every message read and put back", elapsed, n / elapsed))

        one = events[n // 2].event_id
        elapsed, outcome = timed(lambda: dead_letters.replay(DEAD_LETTER_QUEUE, [one]))
        assert outcome.done == (one,) and depth(url, WORK_QUEUE, expected=1) == 1  # type: ignore[attr-defined]
        rows.append((f"DeadLetters.replay of one id among {n}", elapsed, 1 / elapsed))
        purge(url, WORK_QUEUE)

        elapsed, outcome = timed(lambda: dead_letters.replay(DEAD_LETTER_QUEUE, None))
        assert len(outcome.done) == n - 1 and depth(url, WORK_QUEUE, expected=n - 1) == n - 1  # type: ignore[attr-defined]
        rows.append(("DeadLetters.replay of all: each copy confirmed, then acked", elapsed, (n - 1) / elapsed))

    print(
        f"# dead letters: {n} messages, {datetime.now():%Y-%m-%d %H:%M}, {platform.machine()}, "
        f"Python {platform.python_version()}"
    )
    print(f"{'path':<62} {'seconds':>9} {'messages/s':>11}")
    for name, seconds, rate in rows:
        print(f"{name:<62} {seconds:>9.3f} {rate:>11,.0f}")


if __name__ == "__main__":
    main()
