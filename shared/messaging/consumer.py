"""The consumer runner: one queue, manual acks, retries that wait in the broker, and a dead-letter queue for poison.

What happens to a message, decided once per delivery:

- handled: acked after the handler returned, that is after the handler's transaction committed;
- poison (not JSON, not the contract, sent under another routing key than its type, no handler for its type,
  refused by its handler, or still failing when the retry window has passed): forwarded to the dead-letter queue
  with the reason, then acked;
- failing for a passing reason (anything else the handler raises): tried again at once a couple of times, then
  forwarded to the queue's retry queue with a growing delay, then acked. The broker sends it back when the delay is
  over, so the consumer never holds it, nor sleeps with the connection silent.

Messages are forwarded on a connection of the forwarder's own, and acked only once the broker confirmed the copy:
waiting for that confirm never drains the consumer's connection, so no next delivery can run inside it, and nothing
is lost if the process dies in between (the message is simply delivered again; handlers are idempotent).
"""

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from kombu import Exchange
from kombu.mixins import ConsumerMixin
from tenacity import Retrying, retry_if_not_exception_type, stop_after_attempt, wait_exponential

from shared import log_context
from shared.contract import Event, InvalidEvent, from_json
from shared.redaction import describe

from .broker import connect, dead_letter_exchange, declare_topology, is_amqp, queue_of
from .confirmed import ConfirmedProducer, PublishFailed
from .delay import InProcessDelay
from .errors import PoisonMessage
from .observing import UNKNOWN_TYPE, ConsumerObserver
from .redelivery import FailureHistory, RetryPolicy
from .topology import QueueSpec, Topology

log = logging.getLogger(__name__)

EventHandler = Callable[[Event], None]
REASON_HEADER = "x-dead-letter-reason"
ORIGINAL_ROUTING_KEY_HEADER = "x-original-routing-key"
ORIGINAL_QUEUE_HEADER = "x-original-queue"
# How many times the message was dead-lettered (a replayed message that fails again counts on), and when last.
DEAD_LETTER_COUNT_HEADER = "x-dead-letter-count"
DEAD_LETTERED_AT_HEADER = "x-dead-lettered-at"
DEFAULT_EXCHANGE = Exchange("")
FORWARD_FAILED_PAUSE = 1.0
DEFAULT_RETRY = RetryPolicy()

__all__ = ["EventConsumer", "EventHandler", "REASON_HEADER", "RetryPolicy"]


def _count(value) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


class _Stopping(Exception):
    pass


class _Poison(Exception):
    """The message can never be handled; ``reason`` says why, without the data it carried."""


class _Transient(Exception):
    """Handling failed for a reason that may pass; ``args[0]`` names the failure by type only."""


class EventConsumer(ConsumerMixin):
    """Consumes one queue and hands each event to the handler registered for its type."""

    def __init__(
        self,
        broker_url: str,
        topology: Topology,
        queue: QueueSpec,
        handlers: Mapping[str, EventHandler],
        *,
        prefetch_count: int = 10,
        retry: RetryPolicy = DEFAULT_RETRY,
        heartbeat: float = 30,
        stuck_after: float = 60.0,
        clock: Callable[[], float] = time.time,
        observer: ConsumerObserver | None = None,
    ):
        # Waits that name no timeout of their own (declaring the topology at start) end after a heartbeat's time.
        self.connection = connect(broker_url, heartbeat=heartbeat, read_timeout=heartbeat, write_timeout=heartbeat)
        self.topology = topology
        self.queue_spec = queue
        self.handlers = dict(handlers)
        self.prefetch_count = prefetch_count
        self.retry = retry
        self.stuck_after = stuck_after
        self.ready = threading.Event()
        self._clock = clock
        self._observer = observer
        self._forwarder = ConfirmedProducer(broker_url)
        # The in-memory transport has no TTL: a timer stands in for the retry queue there.
        self._delay = None if is_amqp(broker_url) else InProcessDelay(queue.name)
        self._in_hand_since: float | None = None
        self._last_handled: tuple[str, str, datetime] | None = None
        unknown = set(self.handlers) - set(queue.routing_keys)
        if unknown:
            raise ValueError(f"{queue.name} is not bound to {sorted(unknown)}; the topology must bind what is handled")

    # --- what ops see -----------------------------------------------------------------------------------------

    def status(self) -> dict:
        """Whether this consumer is taking messages; one that holds a message far too long says it is stuck."""
        since = self._in_hand_since
        in_hand = time.monotonic() - since if since is not None else 0.0
        stuck = in_hand > self.stuck_after
        status: dict = {"consuming": self.ready.is_set() and not stuck, "stuck": stuck}
        if stuck:
            status["stuck_for_seconds"] = round(in_hand, 1)
        if self._last_handled is not None:
            event_type, event_id, at = self._last_handled
            status["last_handled"] = {"type": event_type, "event_id": event_id, "at": at.isoformat()}
        return status

    # --- kombu's ConsumerMixin --------------------------------------------------------------------------------

    def get_consumers(self, Consumer, channel):
        declare_topology(channel, self.topology)
        return [
            Consumer(
                queues=[queue_of(self.topology, self.queue_spec)],
                on_message=self._on_message,
                prefetch_count=self.prefetch_count,
                no_ack=False,
            )
        ]

    def on_consume_ready(self, connection, channel, consumers, **kwargs):
        log.info("consuming %s", self.queue_spec.name)
        self.ready.set()

    def on_connection_revived(self):
        self.ready.clear()

    def on_consume_end(self, connection, channel):
        self.ready.clear()

    def on_connection_error(self, exc, interval):
        self.ready.clear()
        if self.should_stop:
            raise _Stopping() from exc
        log.warning("broker unreachable for %s (%s); retrying in %.1fs", self.queue_spec.name, describe(exc), interval)

    def run_until_stopped(self) -> None:
        try:
            self.run()
        except _Stopping:
            pass
        finally:
            self.ready.clear()
            if self._delay is not None:
                self._delay.stop()
            self._forwarder.close()
            log.info("stopped consuming %s", self.queue_spec.name)

    def stop(self) -> None:
        self.should_stop = True

    # --- one message ------------------------------------------------------------------------------------------

    def _on_message(self, message) -> None:
        self._in_hand_since = started = time.monotonic()
        # What the envelope says (ids only), so that every line about this delivery can be found by session id.
        properties = message.properties or {}
        event_type = self._original_routing_key(message) or UNKNOWN_TYPE
        context = log_context.bound(
            event_type=event_type,
            event_id=properties.get("message_id") or None,
            correlation_id=properties.get("correlation_id") or None,
        )
        outcome = "handled"
        try:
            with context:
                try:
                    event = self._handle(message)
                except _Poison as poison:
                    outcome = "dead_lettered"
                    self._dead_letter(message, str(poison))
                except _Transient as failure:
                    outcome = self._retry_later(message, str(failure))
                else:
                    message.ack()
                    self._last_handled = (event.type, event.event_id, datetime.now(UTC))
        finally:
            self._in_hand_since = None
            if self._observer is not None:
                # A label only for the types this queue is bound to: a key sent by hand must not make a new series.
                label = event_type if event_type in self.queue_spec.routing_keys else UNKNOWN_TYPE
                self._observer.consumed(label, outcome, time.monotonic() - started)

    def _handle(self, message) -> Event:
        """Run the handler and return the event it handled; raise _Poison or _Transient otherwise."""
        if message.content_type not in ("application/json", None, ""):
            raise _Poison(f"content type {message.content_type!r} is not application/json")
        try:
            event = from_json(message.body)
        except InvalidEvent as exc:
            raise _Poison(str(exc)) from exc
        routing_key = self._original_routing_key(message)
        if routing_key != event.type:
            raise _Poison(f"sent with routing key {routing_key!r} but its type is {event.type}")
        handler = self.handlers.get(event.type)
        if handler is None:
            raise _Poison(f"{self.queue_spec.name} has no handler for {event.type}")
        retrying = Retrying(
            stop=stop_after_attempt(self.retry.attempts),
            wait=wait_exponential(multiplier=self.retry.initial_delay, max=self.retry.max_delay),
            retry=retry_if_not_exception_type(PoisonMessage),
            reraise=True,
            before_sleep=lambda state: log.warning(
                "%s %s failed (attempt %d): %s",
                event.type,
                event.event_id,
                state.attempt_number,
                describe(state.outcome.exception() if state.outcome else None),
            ),
        )
        try:
            # The body's ids, in case the envelope lacked them (a message published by hand).
            with log_context.bound(event_type=event.type, event_id=event.event_id, correlation_id=event.correlation_id):
                retrying(self._observed(handler, event.type), event)
        except PoisonMessage as exc:
            raise _Poison(f"refused: {exc}") from exc
        except Exception as exc:
            raise _Transient(describe(exc)) from exc
        log.info("handled %s %s", event.type, event.event_id)
        return event

    def _observed(self, handler: EventHandler, event_type: str) -> EventHandler:
        """The handler, telling the observer of each attempt that raised for a reason that may pass."""
        observer = self._observer
        if observer is None:
            return handler

        def attempt(event: Event) -> None:
            try:
                handler(event)
            except PoisonMessage:
                raise
            except Exception:
                observer.failed(event_type)
                raise

        return attempt

    def _original_routing_key(self, message) -> str | None:
        """The key the event was published with; a retried or replayed message comes back under the queue's name."""
        key = message.delivery_info.get("routing_key")
        original = (message.headers or {}).get(ORIGINAL_ROUTING_KEY_HEADER)
        if key == self.queue_spec.name and isinstance(original, str):
            return original
        return key

    def _retry_later(self, message, failure: str) -> str:
        """Send the message to wait for its next round, or dead-letter it; return which (as an outcome)."""
        history = FailureHistory.after_failure(message.headers, self._clock())
        delay = self.retry.delay_before_next_round(history, self._clock())
        if delay is None:
            waited = self._clock() - history.first_failed_at
            self._dead_letter(message, f"still failing after {waited:.0f}s of retries: {failure}", history=history)
            return "dead_lettered"
        log.warning(
            "%s from %s failed (%s); round %d, next in %.0fs",
            message.properties.get("message_id"),
            self.queue_spec.name,
            failure,
            history.rounds,
            delay,
        )
        headers = {**self._forwarded_headers(message), **history.headers(failure)}
        if self._delay is None:
            self._forward(message, DEFAULT_EXCHANGE, self.queue_spec.retry_queue, headers, expiration=delay)
        else:
            self._delay.later(delay, lambda: self._send(message, DEFAULT_EXCHANGE, self.queue_spec.name, headers))
            message.ack()
        return "retried"

    def _dead_letter(self, message, reason: str, history: FailureHistory | None = None) -> None:
        reason = reason[:1000]
        log.error("dead-lettering %s from %s: %s", message.properties.get("message_id"), self.queue_spec.name, reason)
        headers = {**self._forwarded_headers(message), REASON_HEADER: reason}
        headers[DEAD_LETTER_COUNT_HEADER] = _count(headers.get(DEAD_LETTER_COUNT_HEADER)) + 1
        headers[DEAD_LETTERED_AT_HEADER] = datetime.fromtimestamp(self._clock(), UTC).isoformat()
        if history is not None:
            headers.update(history.headers(reason))
        self._forward(message, dead_letter_exchange(self.topology), self.queue_spec.name, headers, poison=True)

    def _forwarded_headers(self, message) -> dict:
        headers = dict(message.headers or {})
        headers[ORIGINAL_ROUTING_KEY_HEADER] = self._original_routing_key(message)
        headers[ORIGINAL_QUEUE_HEADER] = self.queue_spec.name
        return headers

    def _forward(self, message, exchange, routing_key: str, headers: dict, *, poison: bool = False, **extra) -> None:
        """Copy the message elsewhere and ack it once the broker confirmed the copy."""
        try:
            self._send(message, exchange, routing_key, headers, **extra)
        except PublishFailed as exc:
            if poison:
                # The queue's own dead-letter exchange still keeps it, without our reason.
                log.error("forwarding to the dead-letter queue failed (%s); rejecting instead", describe(exc))
                message.reject(requeue=False)
            else:
                # Not lost: back to the queue, after a pause so that a broker refusing copies is not hammered.
                log.error("forwarding to the retry queue failed (%s); requeueing", describe(exc))
                time.sleep(FORWARD_FAILED_PAUSE)
                message.requeue()
            return
        message.ack()

    def _send(self, message, exchange, routing_key: str, headers: dict, **extra) -> None:
        body = message.body if isinstance(message.body, bytes) else str(message.body).encode("utf-8")
        properties = {key: message.properties[key] for key in ("correlation_id", "type") if message.properties.get(key)}
        self._forwarder.send(
            body,
            exchange=exchange,
            routing_key=routing_key,
            message_id=message.properties.get("message_id") or "",
            headers=headers,
            content_type=message.content_type or "application/octet-stream",
            content_encoding=message.content_encoding or "binary",
            **properties,
            **extra,
        )
