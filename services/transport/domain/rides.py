"""A ride home: requested when a session is booked, for the moment its recovery ends; dispatched at discharge."""
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Mapping

from shared.contract import (
    RIDE_CANCELLED,
    RIDE_DISPATCHED,
    RIDE_REQUESTED,
    RIDE_RESCHEDULED,
    Event,
    EventType,
    new_event,
)


class RideStatus(StrEnum):
    REQUESTED = "requested"
    CANCELLED = "cancelled"
    DISPATCHED = "dispatched"


@dataclass
class Ride:
    id: str
    session_id: str
    patient_id: str
    mode: str
    pickup_at: datetime
    status: RideStatus
    requested_at: datetime
    cancelled_at: datetime | None = None
    dispatched_at: datetime | None = None

    def cancel(self, *, now: datetime) -> list[Event]:
        if self.status is RideStatus.CANCELLED:
            return []
        self.status = RideStatus.CANCELLED
        self.cancelled_at = now
        return [self._event(RIDE_CANCELLED)]

    def reschedule(self, *, pickup_at: datetime) -> list[Event]:
        """Only a ride still requested moves; one already at that time, cancelled or dispatched does not."""
        if self.status is not RideStatus.REQUESTED or self.pickup_at == pickup_at:
            return []
        self.pickup_at = pickup_at
        return [self._event(RIDE_RESCHEDULED)]

    def dispatch(self, *, pickup_at: datetime, now: datetime) -> list[Event]:
        """Send the ride for ``pickup_at``, once; a cancelled ride is not sent."""
        if self.status is not RideStatus.REQUESTED:
            return []
        self.pickup_at = pickup_at
        self.status = RideStatus.DISPATCHED
        self.dispatched_at = now
        return [self._event(RIDE_DISPATCHED)]

    def _event(self, event_type: EventType) -> Event:
        return new_event(
            event_type,
            {
                "ride_id": self.id,
                "session_id": self.session_id,
                "pickup_at": self.pickup_at,
                "mode": self.mode,
                "status": self.status.value,
            },
            correlation_id=self.session_id,
        )


def request_ride_home(*, ride_id: str, session_booked: Mapping[str, Any], now: datetime) -> tuple[Ride | None, list[Event]]:
    """A session that needs a ride gets one, picked up when its recovery buffer ends; others get none."""
    if session_booked["ride_home_mode"] == "none":
        return None, []
    ride = Ride(
        id=ride_id,
        session_id=session_booked["session_id"],
        patient_id=session_booked["patient_id"],
        mode=session_booked["ride_home_mode"],
        pickup_at=session_booked["recovery_ends_at"],
        status=RideStatus.REQUESTED,
        requested_at=now,
    )
    return ride, [ride._event(RIDE_REQUESTED)]


def reschedule_rides_home(rides: list[Ride], *, session_rescheduled: Mapping[str, Any]) -> list[Event]:
    """The session moved: its requested ride is picked up when the new recovery buffer ends."""
    if session_rescheduled["ride_home_mode"] == "none":
        return []
    return [event for ride in rides for event in ride.reschedule(pickup_at=session_rescheduled["recovery_ends_at"])]


def dispatch_rides_home(rides: list[Ride], *, session_discharged: Mapping[str, Any], now: datetime) -> list[Event]:
    """The patient was released: the requested ride is sent for the moment of discharge, early or late."""
    if session_discharged["ride_home_mode"] == "none":
        return []
    return [
        event for ride in rides for event in ride.dispatch(pickup_at=session_discharged["discharged_at"], now=now)
    ]
