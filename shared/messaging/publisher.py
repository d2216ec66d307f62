"""Publishing events so that the broker has them: confirmed, persistent, routable, never hanging."""
import logging
import threading
from dataclasses import dataclass

from kombu import Producer

from .broker import connect, declare_topology, events_exchange
from .topology import Topology

log = logging.getLogger(__name__)


class PublishFailed(Exception):
    """The broker did not take the event; it is still ours to publish again."""


class UnroutableEvent(PublishFailed):
    """The broker took the event but no queue is bound for its type."""


@dataclass(frozen=True)
class OutgoingMessage:
    event_id: str
    routing_key: str
    body: str
    correlation_id: str


@dataclass(frozen=True)
class PublishPolicy:
    confirm_timeout: float = 5.0
    max_retries: int = 2
    retry_interval: float = 0.2
    retry_interval_max: float = 1.0


class EventPublisher:
    """Publishes to the events exchange on a connection of its own, declaring the topology on each new connection.

    Not thread-safe: each thread that publishes owns a publisher.
    """

    def __init__(self, broker_url: str, topology: Topology, policy: PublishPolicy = PublishPolicy()):
        self._broker_url = broker_url
        self._topology = topology
        self._policy = policy
        self._exchange = events_exchange(topology)
        self._connection = None
        self._producer = None
        self._returned: list[str] = []
        self._lock = threading.Lock()

    def publish(self, message: OutgoingMessage) -> None:
        with self._lock:
            try:
                self._publish(message)
            except UnroutableEvent:
                raise
            except Exception as exc:
                self._discard_connection()
                raise PublishFailed(f"{message.routing_key} {message.event_id}: {type(exc).__name__}: {exc}") from exc

    def _publish(self, message: OutgoingMessage) -> None:
        producer = self._ensure_producer()
        self._returned.clear()
        producer.publish(
            message.body,
            exchange=self._exchange,
            routing_key=message.routing_key,
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
            mandatory=True,
            message_id=message.event_id,
            correlation_id=message.correlation_id,
            type=message.routing_key,
            retry=True,
            retry_policy={
                "max_retries": self._policy.max_retries,
                "interval_start": self._policy.retry_interval,
                "interval_step": self._policy.retry_interval,
                "interval_max": self._policy.retry_interval_max,
            },
            confirm_timeout=self._policy.confirm_timeout,
        )
        if message.event_id in self._returned:
            raise UnroutableEvent(f"no queue is bound for {message.routing_key} (event {message.event_id})")

    def _ensure_producer(self) -> Producer:
        if self._producer is None:
            connection = connect(self._broker_url)
            connection.ensure_connection(
                max_retries=self._policy.max_retries,
                interval_start=self._policy.retry_interval,
                interval_step=self._policy.retry_interval,
                interval_max=self._policy.retry_interval_max,
            )
            channel = connection.channel()
            declare_topology(channel, self._topology)
            self._connection = connection
            self._producer = Producer(channel, exchange=self._exchange, on_return=self._on_return)
        return self._producer

    def _on_return(self, exception, exchange, routing_key, message) -> None:
        self._returned.append(message.properties.get("message_id"))
        log.error("broker returned %s as unroutable from %s: %s", routing_key, exchange, exception)

    def _discard_connection(self) -> None:
        connection, self._connection, self._producer = self._connection, None, None
        if connection is not None:
            try:
                connection.release()
            except Exception:  # the connection is already broken; nothing to release cleanly
                log.debug("releasing a broken broker connection failed", exc_info=True)

    def close(self) -> None:
        with self._lock:
            self._discard_connection()
