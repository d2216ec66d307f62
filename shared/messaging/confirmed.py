"""A producer on a connection of its own whose every publish is confirmed by the broker, or fails: never hangs.

Every wait is bounded: the connection by its connect, read and write timeouts and a few retries, each publish by
the confirm timeout. A message the broker cannot route (``mandatory``) comes back and fails the publish too.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from kombu import Connection, Producer

from .broker import connect

log = logging.getLogger(__name__)


class PublishFailed(Exception):
    """The broker did not take the message; it is still ours to publish again."""


class UnroutableEvent(PublishFailed):
    """The broker took the message but no queue is bound for its routing key."""


@dataclass(frozen=True)
class PublishPolicy:
    confirm_timeout: float = 5.0
    max_retries: int = 2
    retry_interval: float = 0.2
    retry_interval_max: float = 1.0
    socket_timeout: float = 10.0


class ConfirmedProducer:
    """Owns one connection and one producer; thread-safe (one publish at a time)."""

    def __init__(
        self,
        broker_url: str,
        policy: PublishPolicy = PublishPolicy(),
        *,
        on_connect: Callable[[object], None] = lambda channel: None,
    ):
        self._broker_url = broker_url
        self._policy = policy
        self._on_connect = on_connect
        self._connection: Connection | None = None
        self._producer: Producer | None = None
        self._returned: list[str] = []
        self._lock = threading.Lock()

    def send(self, body, *, exchange, routing_key: str, message_id: str, **properties) -> None:
        """Publish and wait for the broker's confirm; raise PublishFailed (UnroutableEvent if nothing is bound)."""
        with self._lock:
            try:
                producer = self._ensure_producer()
                self._returned.clear()
                producer.publish(
                    body,
                    exchange=exchange,
                    routing_key=routing_key,
                    delivery_mode=2,
                    mandatory=True,
                    message_id=message_id,
                    declare=[],
                    retry=True,
                    retry_policy={
                        "max_retries": self._policy.max_retries,
                        "interval_start": self._policy.retry_interval,
                        "interval_step": self._policy.retry_interval,
                        "interval_max": self._policy.retry_interval_max,
                    },
                    confirm_timeout=self._policy.confirm_timeout,
                    **properties,
                )
            except Exception as exc:
                self._discard_connection()
                raise PublishFailed(f"{routing_key} {message_id}: {type(exc).__name__}") from exc
            if message_id in self._returned:
                raise UnroutableEvent(f"no queue is bound for {routing_key} (message {message_id})")

    def _ensure_producer(self) -> Producer:
        if self._producer is None:
            connection = connect(
                self._broker_url,
                read_timeout=self._policy.socket_timeout,
                write_timeout=self._policy.socket_timeout,
            )
            connection.ensure_connection(
                max_retries=self._policy.max_retries,
                interval_start=self._policy.retry_interval,
                interval_step=self._policy.retry_interval,
                interval_max=self._policy.retry_interval_max,
            )
            channel = connection.channel()
            self._on_connect(channel)
            self._connection = connection
            self._producer = Producer(channel, auto_declare=False, on_return=self._on_return)
        return self._producer

    def _on_return(self, exception, exchange, routing_key, message) -> None:
        self._returned.append(message.properties.get("message_id"))
        log.error("broker returned a message for %r on %r as unroutable", routing_key, exchange)

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
