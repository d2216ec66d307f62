"""The scheduler's thin consumer: every ride event keeps the ride status of its session."""

from collections.abc import Callable

from shared.contract import (
    RIDE_AT_RISK,
    RIDE_CANCELLED,
    RIDE_COMPLETED,
    RIDE_CONFIRMED,
    RIDE_DECLINED,
    RIDE_DISPATCHED,
    RIDE_REQUESTED,
    RIDE_RESCHEDULED,
    Event,
)

from . import handlers

RIDE_EVENTS = (
    RIDE_REQUESTED,
    RIDE_CONFIRMED,
    RIDE_DECLINED,
    RIDE_AT_RISK,
    RIDE_RESCHEDULED,
    RIDE_DISPATCHED,
    RIDE_COMPLETED,
    RIDE_CANCELLED,
)


def event_handlers(uow_factory: Callable) -> dict[str, Callable[[Event], None]]:
    def record(event: Event) -> None:
        handlers.record_ride_status(event, uow=uow_factory())

    return {event_type.name: record for event_type in RIDE_EVENTS}
