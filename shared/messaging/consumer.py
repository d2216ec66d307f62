"""The consumer runner: one queue, manual acks, bounded retries, and a dead-letter queue for what cannot be handled."""
import logging
import threading
from dataclasses import dataclass
from typing import Callable, Mapping

from kombu import Producer
from kombu.mixins import ConsumerMixin
from tenacity import Retrying, retry_if_not_exception_type, stop_after_attempt, wait_exponential

from shared.contract import Event, InvalidEvent, from_json

from .broker import connect, dead_letter_exchange, declare_topology, queue_of
from .errors import PoisonMessage
from .topology import QueueSpec, Topology

log = logging.getLogger(__name__)

EventHandler = Callable[[Event], None]
REASON_HEADER = "x-dead-letter-reason"


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    initial_delay: float = 0.5
    max_delay: float = 5.0


class _Stopping(Exception):
    pass


class EventConsumer(ConsumerMixin):
    """Consumes one queue and hands each event to the handler registered for its type.

    A message is acked only after its handler returned, that is after the handler's transaction committed.
    """

    def __init__(
        self,
        broker_url: str,
        topology: Topology,
        queue: QueueSpec,
        handlers: Mapping[str, EventHandler],
        *,
        prefetch_count: int = 10,
        retry: RetryPolicy = RetryPolicy(),
        heartbeat: float = 30,
    ):
        self.connection = connect(broker_url, heartbeat=heartbeat)
        self.topology = topology
        self.queue_spec = queue
        self.handlers = dict(handlers)
        self.prefetch_count = prefetch_count
        self.retry = retry
        self.ready = threading.Event()
        self._dead_letters: Producer | None = None
        unknown = set(self.handlers) - set(queue.routing_keys)
        if unknown:
            raise ValueError(f"{queue.name} is not bound to {sorted(unknown)}; the topology must bind what is handled")

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
        self._dead_letters = Producer(connection.channel(), exchange=dead_letter_exchange(self.topology))
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
        log.warning("broker unreachable for %s (%s); retrying in %.1fs", self.queue_spec.name, exc, interval)

    def run_until_stopped(self) -> None:
        try:
            self.run()
        except _Stopping:
            pass
        finally:
            self.ready.clear()
            log.info("stopped consuming %s", self.queue_spec.name)

    def stop(self) -> None:
        self.should_stop = True

    def _on_message(self, message) -> None:
        outcome = self._handle(message)
        if outcome is None:
            message.ack()
        else:
            self._dead_letter(message, outcome)

    def _handle(self, message) -> str | None:
        """Run the handler; return None when done, or the reason the message must be dead-lettered."""
        if message.content_type not in ("application/json", None, ""):
            return f"content type {message.content_type!r} is not application/json"
        try:
            event = from_json(message.body)
        except InvalidEvent as exc:
            return str(exc)
        handler = self.handlers.get(event.type)
        if handler is None:
            return f"{self.queue_spec.name} has no handler for {event.type}"
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
                state.outcome.exception(),
            ),
        )
        try:
            retrying(handler, event)
        except PoisonMessage as exc:
            return f"refused: {exc}"
        except Exception as exc:
            log.exception("%s %s failed after %d attempts", event.type, event.event_id, self.retry.attempts)
            return f"failed after {self.retry.attempts} attempts: {type(exc).__name__}: {exc}"
        log.info("handled %s %s", event.type, event.event_id)
        return None

    def _dead_letter(self, message, reason: str) -> None:
        reason = reason[:1000]
        log.error(
            "dead-lettering message %s from %s: %s",
            message.properties.get("message_id"),
            self.queue_spec.name,
            reason,
        )
        headers = dict(message.headers or {})
        headers[REASON_HEADER] = reason
        headers["x-original-routing-key"] = message.delivery_info.get("routing_key")
        headers["x-original-queue"] = self.queue_spec.name
        body = message.body if isinstance(message.body, bytes) else str(message.body).encode("utf-8")
        try:
            self._dead_letters.publish(
                body,
                routing_key=self.queue_spec.name,
                headers=headers,
                content_type=message.content_type or "application/octet-stream",
                content_encoding=message.content_encoding or "binary",
                delivery_mode=2,
                mandatory=True,
                message_id=message.properties.get("message_id"),
                confirm_timeout=5.0,
            )
        except self.connection.connection_errors:
            raise  # the runner reconnects and the broker redelivers the message
        except Exception:
            # The queue's own dead-letter exchange still keeps it, without our reason.
            log.exception("publishing to the dead-letter queue failed; rejecting instead")
            message.reject(requeue=False)
            return
        message.ack()
