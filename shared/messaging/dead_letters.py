"""Dead letters for ops: list the messages of a dead-letter queue, replay them to their queue, or discard them.

Reading never consumes. The messages of the dead-letter queue are taken with ``basic.get`` without an ack, so the
broker still holds them; those not acted on are rejected with ``requeue`` at the end (RabbitMQ puts them back where
they were), and any left unsettled when the connection closes, or breaks, go back to the queue by themselves.
While one operation holds messages, another one running at the same time does not see them.

Replay publishes a copy to the queue the message came from, through the default exchange (routing key = the work
queue's name), so no other queue bound to the event's routing key gets it a second time. The copy keeps the body,
``message_id``, ``correlation_id``, ``type``, the content type and encoding, the headers that say what it is
(``x-original-routing-key``, which the consumer checks against the event's type, and ``x-original-queue``) and those
that count how often it was dead-lettered (``x-dead-letter-count``, ``x-dead-lettered-at``, ``x-death``); the reason
and the retry history (``x-dead-letter-reason``, ``x-retry-rounds``, ``x-first-failed-at``, ``x-last-failure``) are
dropped, so the replayed event gets a full retry window again. The copy goes to the work queue of the dead-letter
queue it is read from, whatever its headers say: a header cannot send a replay elsewhere.

Nothing is lost when the broker drops in the middle of a replay: a dead letter is acked only after the broker
confirmed its copy, and every dead letter not acked yet goes back to the dead-letter queue. A copy that was
confirmed but whose ack was lost with the connection leaves the event both in its queue and still in the
dead-letter queue; replaying it again delivers it twice, which is safe because every consumer is idempotent.

Discarding acks the selected dead letters. The reason is for the caller's audit trail: it is neither sent to the
broker nor logged (it is free text), and the log names only the event ids.

Selecting messages: ``event_ids=None`` selects every message that was in the queue when the operation started
(a replayed event that fails again comes back behind them and is not replayed twice in one go). A message is known
by its ``message_id``, else by the ``event_id`` of its JSON body; one with neither (bytes that are not an event)
is listed with the event id ``""``, and selecting ``""`` selects every such message. Several copies of one event
are all acted on. Selected ids not in the queue come back in ``not_found``; ``done`` names each event id acted on
once, in queue order. (A single string passed as ``event_ids`` is taken as one id.)

On kombu's in-memory transport (the embedded default) the same operations work within the process; there a
message put back goes to the end of its queue, so every read takes the whole queue and puts it back in order.
"""

import json
import logging
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from amqp.exceptions import MessageNacked
from kombu import Producer
from kombu.exceptions import OperationalError

from shared.redaction import describe

from .broker import connect, is_amqp
from .consumer import (
    DEAD_LETTER_COUNT_HEADER,
    DEAD_LETTERED_AT_HEADER,
    ORIGINAL_QUEUE_HEADER,
    ORIGINAL_ROUTING_KEY_HEADER,
    REASON_HEADER,
)
from .redelivery import FIRST_FAILED_AT_HEADER, LAST_FAILURE_HEADER, RETRY_ROUNDS_HEADER
from .topology import QueueSpec, Topology

log = logging.getLogger(__name__)

# What a replayed copy leaves behind: why it failed last time, and the retry history of that time.
DROPPED_ON_REPLAY = frozenset({REASON_HEADER, RETRY_ROUNDS_HEADER, FIRST_FAILED_AT_HEADER, LAST_FAILURE_HEADER})
X_DEATH = "x-death"


@dataclass(frozen=True)
class DeadLetter:
    event_id: str  # "" for a message that carries no id at all
    type: str | None
    session_id: str | None  # the correlation id
    reason: str | None
    times_dead_lettered: int
    retry_rounds: int
    original_queue: str
    dead_lettered_at: str | None  # ISO 8601
    first_failed_at: str | None  # ISO 8601, when it failed first in its last retry window

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DeadLetterOutcome:
    done: tuple[str, ...]  # event ids replayed / discarded (confirmed)
    not_found: tuple[str, ...]


class UnknownDeadLetterQueue(ValueError):
    """The name is not the dead-letter queue of a queue of the topology."""


class BrokerUnavailable(Exception):
    """The broker could not be reached, or went away in the middle; ``outcome`` says what was done before."""

    def __init__(self, message: str, outcome: DeadLetterOutcome | None = None):
        super().__init__(message)
        self.outcome = outcome


class DeadLetters:
    """The dead-letter queues of a topology, each operation on a short connection of its own."""

    def __init__(self, broker_url: str, topology: Topology, *, timeout: float = 5.0):
        self._broker_url = broker_url
        self._topology = topology
        self._timeout = timeout
        # The in-memory transport puts a message back at the end of its queue: read it all to keep the order.
        self._read_whole_queue = not is_amqp(broker_url)

    def queues(self) -> tuple[str, ...]:
        """The topology's dead-letter queue names."""
        return tuple(spec.dead_letter_queue for spec in self._topology.queues if spec.dead_letters)

    def list(self, queue: str, *, limit: int = 500) -> list[DeadLetter]:
        """The first ``limit`` messages of the dead-letter queue, oldest first; they all stay in the queue."""
        spec = self._spec(queue)
        with self._session(spec) as session:
            letters = []
            for _, letter in session.messages(limit=None if self._read_whole_queue else limit):
                letters.append(letter)
            return letters[: max(limit, 0)]

    def replay(self, queue: str, event_ids: Collection[str] | None) -> DeadLetterOutcome:
        """Send the selected dead letters back to their queue (None = all); each leaves the DLQ once confirmed."""
        spec = self._spec(queue)
        outcome = self._act(spec, event_ids, "replay", lambda session, message, letter: session.replay(message, letter))
        log.info("replayed %d dead letters of %s to %s: %s", len(outcome.done), queue, spec.name, _ids(outcome))
        return outcome

    def discard(self, queue: str, event_ids: Collection[str] | None, reason: str) -> DeadLetterOutcome:
        """Remove the selected dead letters for good (None = all); ``reason`` is for the caller's audit only."""
        spec = self._spec(queue)
        outcome = self._act(spec, event_ids, "discard", lambda session, message, letter: None)
        log.info("discarded %d dead letters of %s: %s", len(outcome.done), queue, _ids(outcome))
        return outcome

    # --- the work -------------------------------------------------------------------------------------------------

    def _spec(self, queue: str) -> QueueSpec:
        for spec in self._topology.queues:
            if spec.dead_letters and spec.dead_letter_queue == queue:
                return spec
        raise UnknownDeadLetterQueue(f"{queue!r} is not a dead-letter queue of the topology")

    def _act(
        self,
        spec: QueueSpec,
        event_ids: Collection[str] | None,
        action: str,
        act: Callable[["_Session", Any, DeadLetter], None],
    ) -> DeadLetterOutcome:
        if isinstance(event_ids, str):
            event_ids = (event_ids,)  # one id, not the collection of its characters
        wanted = None if event_ids is None else list(dict.fromkeys(event_ids))
        if wanted is not None and not wanted:
            return DeadLetterOutcome(done=(), not_found=())
        selected = None if wanted is None else set(wanted)
        done: dict[str, None] = {}  # ordered, one entry per event id however many copies
        try:
            with self._session(spec) as session:
                for message, letter in session.messages(limit=None):
                    if selected is not None and letter.event_id not in selected:
                        continue
                    act(session, message, letter)
                    session.ack(message)
                    done[letter.event_id] = None
        except BrokerUnavailable as exc:
            partial = DeadLetterOutcome(done=tuple(done), not_found=())
            log.error("%s of dead letters from %s stopped after %d: %s", action, spec.dead_letter_queue, len(done), exc)
            raise BrokerUnavailable(str(exc), partial) from exc
        not_found = () if wanted is None else tuple(i for i in wanted if i not in done)
        return DeadLetterOutcome(done=tuple(done), not_found=not_found)

    @contextmanager
    def _session(self, spec: QueueSpec) -> Iterator["_Session"]:
        connection = connect(
            self._broker_url,
            connect_timeout=self._timeout,
            read_timeout=self._timeout,
            write_timeout=self._timeout,
        )
        errors = (
            *connection.connection_errors,
            *connection.channel_errors,
            OSError,
            OperationalError,
            MessageNacked,
        )
        try:
            try:
                connection.ensure_connection(max_retries=0)
                session = _Session(connection.channel(), spec, self._timeout)
            except errors as exc:
                raise BrokerUnavailable(f"broker unreachable: {describe(exc)}") from exc
            try:
                yield session
                session.put_back_the_rest()
            except errors as exc:
                # Whatever was not acked goes back to the dead-letter queue with the connection.
                raise BrokerUnavailable(f"the broker failed mid-way: {describe(exc)}") from exc
            except BaseException:
                # The connection still works: put back what was held (the in-memory transport would not).
                session.put_back_the_rest_quietly()
                raise
        finally:
            try:
                connection.release()
            except Exception:  # a broken connection has nothing left to close cleanly
                log.debug("releasing the dead-letter connection failed", exc_info=True)


class _Session:
    """One channel on a dead-letter queue: messages taken without an ack, then acked or put back."""

    def __init__(self, channel, spec: QueueSpec, timeout: float):
        self._channel = channel
        self._spec = spec
        self._timeout = timeout
        self._held: list[Any] = []
        self._returned: list[str] = []
        self._producer: Producer | None = None

    def messages(self, *, limit: int | None) -> Iterator[tuple[Any, DeadLetter]]:
        """The messages in the queue when called (at most ``limit``), each held until acked or put back.

        The depth the broker gives is a floor, not the count: messages another connection just put back may not be
        counted yet. So after that many, reading goes on while the queue gives messages not seen in this session;
        one seen already is a copy that came back behind them (a replay that failed again), and ends the reading.
        """
        floor = self._depth()
        if floor is None:
            return  # never declared (the broker closed the channel on asking): nothing was ever dead-lettered
        seen: set[str] = set()
        taken = 0
        while limit is None or taken < limit:
            raw = self._channel.basic_get(queue=self._spec.dead_letter_queue, no_ack=False)
            if raw is None:
                return
            message = self._channel.message_to_python(raw)
            self._held.append(message)
            letter = read_dead_letter(message.body, message.properties, message.headers, self._spec.name)
            if taken >= floor and letter.event_id in seen:
                return  # held, so put back with the rest
            seen.add(letter.event_id)
            taken += 1
            yield message, letter

    def ack(self, message) -> None:
        message.ack()
        self._held.remove(message)

    def replay(self, message, letter: DeadLetter) -> None:
        """Publish a copy to the work queue and wait for the broker's confirm."""
        if self._producer is None:
            self._producer = Producer(self._channel, auto_declare=False, on_return=self._on_return)
        properties = message.properties or {}
        message_id = properties.get("message_id") or letter.event_id or None
        extra = {key: properties[key] for key in ("correlation_id", "type") if properties.get(key)}
        self._returned.clear()
        self._producer.publish(
            _bytes(message.body),
            exchange="",
            routing_key=self._spec.name,
            headers=replayed_headers(message.headers, self._spec.name),
            message_id=message_id,
            content_type=message.content_type or "application/octet-stream",
            content_encoding=message.content_encoding or "binary",
            delivery_mode=2,
            mandatory=True,
            declare=[],
            retry=False,
            confirm_timeout=self._timeout,
            **extra,
        )
        if self._returned:
            raise BrokerUnavailable(f"the broker could not route the replayed copy to {self._spec.name}")

    def put_back_the_rest(self) -> None:
        while self._held:
            self._held.pop(0).reject(requeue=True)

    def put_back_the_rest_quietly(self) -> None:
        try:
            self.put_back_the_rest()
        except Exception:  # the connection broke too: on AMQP the broker puts them back by itself
            log.debug("putting dead letters back failed", exc_info=True)

    def _depth(self) -> int | None:
        try:
            _, ready, _ = self._channel.queue_declare(queue=self._spec.dead_letter_queue, passive=True)
        except Exception as exc:
            if getattr(exc, "reply_code", None) == 404 or "NOT_FOUND" in str(exc):
                return None
            raise
        return int(ready)

    def _on_return(self, exception, exchange, routing_key, message) -> None:
        self._returned.append(routing_key)


def _ids(outcome: DeadLetterOutcome) -> object:
    """The ids acted on, for the log: all of them unless there are very many."""
    return list(outcome.done) if len(outcome.done) <= 100 else f"{list(outcome.done[:100])} and more"


# --- reading a dead letter: pure -------------------------------------------------------------------------------------


def read_dead_letter(
    body: bytes | str | None,
    properties: Mapping[str, Any] | None,
    headers: Mapping[str, Any] | None,
    work_queue: str,
) -> DeadLetter:
    """What ops need to know about one message of ``work_queue``'s dead-letter queue, from what it carries.

    The consumer's own headers say why and how often; a message the broker dead-lettered itself (rejected,
    expired, or pushed out by a length limit) has only the broker's ``x-death`` header, read the same way.
    """
    properties = properties or {}
    headers = headers or {}
    document = _document(body)
    deaths = [death for death in _deaths(headers) if _text(death.get("queue")) == work_queue]
    reason = _text(headers.get(REASON_HEADER))
    if reason is None and deaths:
        reason = f"dead-lettered by the broker ({_text(deaths[0].get('reason')) or 'no reason given'})"
    dead_lettered_at = _text(headers.get(DEAD_LETTERED_AT_HEADER))
    if dead_lettered_at is None and deaths:
        dead_lettered_at = _iso(deaths[0].get("time"))
    return DeadLetter(
        event_id=_text(properties.get("message_id")) or _text(document.get("event_id")) or "",
        type=_text(properties.get("type")) or _text(document.get("type")) or _original_routing_key(headers, deaths),
        session_id=_text(properties.get("correlation_id")) or _text(document.get("correlation_id")),
        reason=reason,
        times_dead_lettered=_count(headers.get(DEAD_LETTER_COUNT_HEADER))
        + sum(_count(death.get("count")) for death in deaths),
        retry_rounds=_count(headers.get(RETRY_ROUNDS_HEADER)),
        original_queue=work_queue,
        dead_lettered_at=dead_lettered_at,
        first_failed_at=_iso(headers.get(FIRST_FAILED_AT_HEADER)),
    )


def replayed_headers(headers: Mapping[str, Any] | None, work_queue: str) -> dict[str, Any]:
    """The headers of a replayed copy: without the last failure, with what the consumer needs to accept it."""
    kept = {key: value for key, value in (headers or {}).items() if key not in DROPPED_ON_REPLAY}
    if not isinstance(kept.get(ORIGINAL_ROUTING_KEY_HEADER), str):
        # Dead-lettered by the broker: the key it was published with is in x-death, and the consumer checks it.
        key = _original_routing_key(kept, [d for d in _deaths(kept) if _text(d.get("queue")) == work_queue])
        if key is not None:
            kept[ORIGINAL_ROUTING_KEY_HEADER] = key
    kept.setdefault(ORIGINAL_QUEUE_HEADER, work_queue)
    return kept


def _original_routing_key(headers: Mapping[str, Any], deaths: list[Mapping[str, Any]]) -> str | None:
    key = _text(headers.get(ORIGINAL_ROUTING_KEY_HEADER))
    if key is not None:
        return key
    for death in deaths:
        keys = death.get("routing-keys")
        if isinstance(keys, list | tuple) and keys and _text(keys[0]):
            return _text(keys[0])
    return None


def _deaths(headers: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    deaths = headers.get(X_DEATH)
    return [death for death in deaths if isinstance(death, Mapping)] if isinstance(deaths, list | tuple) else []


def _document(body: bytes | str | None) -> Mapping[str, Any]:
    try:
        document = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        return {}
    return document if isinstance(document, dict) else {}


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value if isinstance(value, str) and value else None


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _iso(value: object) -> str | None:
    """An ISO 8601 instant from what a header holds: an AMQP timestamp, seconds since the epoch, or a string."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC).isoformat()
        except (OverflowError, OSError, ValueError):
            return None
    return _text(value)


def _bytes(body: bytes | str) -> bytes:
    return body if isinstance(body, bytes) else str(body).encode("utf-8")
