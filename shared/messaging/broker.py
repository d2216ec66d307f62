"""Connections to the broker and the kombu entities that the topology data describes."""

import logging

from kombu import Connection, Exchange, Queue, binding

from .topology import QueueSpec, Topology

log = logging.getLogger(__name__)


def connect(
    url: str,
    *,
    heartbeat: float = 0,
    connect_timeout: float = 5.0,
    read_timeout: float | None = None,
    write_timeout: float | None = None,
) -> Connection:
    """A lazy connection: nothing is opened until first use. Publisher confirms are on for every channel.

    Read and write timeouts bound every wait on the socket that names no timeout of its own (a channel opening,
    a declare); a consumer leaves them unset, since it waits for deliveries with a timeout of its own.
    """
    options: dict[str, object] = {"confirm_publish": True}
    if is_amqp(url):
        options.update({k: v for k, v in (("read_timeout", read_timeout), ("write_timeout", write_timeout)) if v})
    return Connection(url, heartbeat=heartbeat, connect_timeout=connect_timeout, transport_options=options)


def is_amqp(url: str) -> bool:
    """Whether the URL names a real AMQP broker (with TTLs and dead-lettering), not kombu's in-memory transport."""
    return url.split("://", 1)[0] in ("amqp", "amqps", "pyamqp")


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


def retry_queue_of(spec: QueueSpec) -> Queue:
    """The queue where a failed event waits for its next attempt; its TTL expiry sends it back to ``spec``'s queue."""
    return Queue(
        spec.retry_queue,
        durable=True,
        queue_arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": spec.name},
    )


def declare_topology(channel, topology: Topology) -> None:
    """Declare exchanges, queues, bindings, retry and dead-letter queues; declaring again changes nothing."""
    events_exchange(topology)(channel).declare()
    dead_letter_exchange(topology)(channel).declare()
    for spec in topology.queues:
        queue_of(topology, spec)(channel).declare()
        if spec.dead_letters:
            dead_letter_queue_of(topology, spec)(channel).declare()
            retry_queue_of(spec)(channel).declare()
    log.debug("declared topology on exchange %s", topology.exchange)
