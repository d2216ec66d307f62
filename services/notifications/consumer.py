"""The notifications service's thin consumer: which use case handles which event."""

from collections.abc import Callable
from datetime import datetime

from shared.contract import RIDE_DISPATCHED, RIDE_REQUESTED, RIDE_RESCHEDULED, SESSION_BOOKED, Event

from . import handlers
from .domain.delivery import Gateway
from .domain.rides import EscortLinks


def event_handlers(
    uow_factory: Callable, directory, gateway: Gateway, clock: Callable[[], datetime], links: EscortLinks
) -> dict[str, Callable[[Event], None]]:
    def ask_the_escort(event: Event) -> None:
        handlers.send_escort_ride_request(
            event, uow_factory=uow_factory, directory=directory, links=links, gateway=gateway, clock=clock
        )

    return {
        SESSION_BOOKED.name: lambda event: handlers.send_preparation_instructions(
            event, uow_factory=uow_factory, directory=directory, gateway=gateway, clock=clock
        ),
        RIDE_REQUESTED.name: ask_the_escort,
        RIDE_RESCHEDULED.name: ask_the_escort,
        RIDE_DISPATCHED.name: lambda event: handlers.send_escort_patient_ready(
            event, uow_factory=uow_factory, directory=directory, gateway=gateway, clock=clock
        ),
    }
