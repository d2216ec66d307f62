"""The transport service's thin consumer: which use case handles which event."""

from collections.abc import Callable
from datetime import datetime

from shared.contract import (
    SESSION_BOOKED,
    SESSION_CANCELLED,
    SESSION_DISCHARGED,
    SESSION_NO_SHOW,
    SESSION_RESCHEDULED,
    Event,
)

from . import handlers
from .domain.at_risk import Threshold


def event_handlers(
    uow_factory: Callable,
    clock: Callable[[], datetime],
    thresholds: tuple[Threshold, ...] = handlers.DEFAULT_THRESHOLDS,
) -> dict[str, Callable[[Event], None]]:
    return {
        SESSION_BOOKED.name: lambda event: handlers.request_ride(
            event, uow=uow_factory(), now=clock(), thresholds=thresholds
        ),
        SESSION_CANCELLED.name: lambda event: handlers.cancel_rides(event, uow=uow_factory(), now=clock()),
        SESSION_RESCHEDULED.name: lambda event: handlers.reschedule_rides(
            event, uow=uow_factory(), now=clock(), thresholds=thresholds
        ),
        SESSION_NO_SHOW.name: lambda event: handlers.cancel_rides(event, uow=uow_factory(), now=clock()),
        SESSION_DISCHARGED.name: lambda event: handlers.dispatch_rides(event, uow=uow_factory(), now=clock()),
    }
