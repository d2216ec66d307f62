"""Publishing events so that the broker has them: confirmed, persistent, routable, never hanging."""

import logging
from dataclasses import dataclass

from .broker import declare_topology, events_exchange
from .confirmed import ConfirmedProducer, PublishFailed, PublishPolicy, UnroutableEvent
from .topology import Topology

log = logging.getLogger(__name__)

__all__ = ["EventPublisher", "OutgoingMessage", "PublishFailed", "PublishPolicy", "UnroutableEvent"]


@dataclass(frozen=True)
class OutgoingMessage:
    event_id: str
    routing_key: str
    body: str
    correlation_id: str


DEFAULT_POLICY = PublishPolicy()


class EventPublisher:
    """Publishes to the events exchange on a connection of its own, declaring the topology on each new connection."""

    def __init__(self, broker_url: str, topology: Topology, policy: PublishPolicy = DEFAULT_POLICY):
        self._exchange = events_exchange(topology)
        self._producer = ConfirmedProducer(
            broker_url, policy, on_connect=lambda channel: declare_topology(channel, topology)
        )

    def publish(self, message: OutgoingMessage) -> None:
        self._producer.send(
            message.body,
            exchange=self._exchange,
            routing_key=message.routing_key,
            message_id=message.event_id,
            content_type="application/json",
            content_encoding="utf-8",
            correlation_id=message.correlation_id,
            type=message.routing_key,
        )

    def close(self) -> None:
        self._producer.close()
