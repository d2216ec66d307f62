"""The notifications service's thin consumer: which use case handles which event."""
from datetime import datetime
from typing import Callable

from shared.contract import SESSION_BOOKED, Event

from . import handlers
from .domain.delivery import Gateway


def event_handlers(
    uow_factory: Callable, directory, gateway: Gateway, clock: Callable[[], datetime]
) -> dict[str, Callable[[Event], None]]:
    return {
        SESSION_BOOKED.name: lambda event: handlers.send_preparation_instructions(
            event, uow_factory=uow_factory, directory=directory, gateway=gateway, clock=clock
        ),
    }
