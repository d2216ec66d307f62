"""The notifications service's thin consumer: every event it is bound to only plans messages."""

from collections.abc import Callable
from datetime import datetime

from shared.contract import Event
from shared.messaging.topology import NOTIFICATIONS_QUEUE

from . import handlers
from .domain.planning import Policy


def event_handlers(
    uow_factory: Callable, policy: Policy, clock: Callable[[], datetime]
) -> dict[str, Callable[[Event], None]]:
    def plan(event: Event) -> None:
        handlers.plan_messages(event, uow_factory=uow_factory, policy=policy, clock=clock)

    return {event_type: plan for event_type in NOTIFICATIONS_QUEUE.routing_keys}
