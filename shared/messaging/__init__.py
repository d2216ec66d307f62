"""Messaging over RabbitMQ with kombu. The only code of the product that imports kombu."""

from .consumer import EventConsumer, EventHandler
from .errors import PoisonMessage
from .publisher import EventPublisher, OutgoingMessage, PublishFailed, PublishPolicy, UnroutableEvent
from .redelivery import RetryPolicy
from .topology import CLINIC_TOPOLOGY, QueueSpec, Topology

__all__ = [
    "CLINIC_TOPOLOGY",
    "EventConsumer",
    "EventHandler",
    "EventPublisher",
    "OutgoingMessage",
    "PoisonMessage",
    "PublishFailed",
    "PublishPolicy",
    "QueueSpec",
    "RetryPolicy",
    "Topology",
    "UnroutableEvent",
]
