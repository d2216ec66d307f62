"""Connections to the broker and the kombu entities that the topology data describes."""
import logging

from kombu import Connection, Exchange, Queue, binding

from .topology import QueueSpec, Topology

log = logging.getLogger(__name__)


def connect(url: str, *, heartbeat: float = 0, connect_timeout: float = 5.0) -> Connection:
    """A lazy connection: nothing is opened until first use. Publisher confirms are on for every channel."""
    return Connection(
        url,
        heartbeat=heartbeat,
        connect_timeout=connect_timeout,
        transport_options={"confirm_publish": True},
    )


def events_exchange(topology: Topology) -> Exchange:
    return Exchange(topology.exchange, type="topic", durable=True)


def dead_letter_exchange(topology: Topology) -> Exchange:
    return Exchange(topology.dead_letter_exchange, type="direct", durable=True)


def queue_of(topology: Topology, spec: QueueSpec) -> Queue:
    arguments: dict[str, object] = {}
    if spec.dead_letters:
        # A message the broker itself gives up on (rejected without requeue) still lands in the DLQ.
        arguments["x-dead-letter-exchange"] = topology.dead_letter_exchange
        arguments["x-dead-letter-routing-key"] = spec.name
    if spec.max_length:
        arguments["x-max-length"] = spec.max_length
        arguments["x-overflow"] = "drop-head"
    exchange = events_exchange(topology)
    return Queue(
        spec.name,
        bindings=[binding(exchange, routing_key=key) for key in spec.routing_keys],
        durable=True,
        queue_arguments=arguments or None,
    )


def dead_letter_queue_of(topology: Topology, spec: QueueSpec) -> Queue:
    return Queue(
        spec.dead_letter_queue,
        exchange=dead_letter_exchange(topology),
        routing_key=spec.name,
        durable=True,
    )


def declare_topology(channel, topology: Topology) -> None:
    """Declare exchanges, queues, bindings and dead-letter queues; declaring again changes nothing."""
    events_exchange(topology)(channel).declare()
    dead_letter_exchange(topology)(channel).declare()
    for spec in topology.queues:
        queue_of(topology, spec)(channel).declare()
        if spec.dead_letters:
            dead_letter_queue_of(topology, spec)(channel).declare()
    log.debug("declared topology on exchange %s", topology.exchange)
