"""A ride home: requested when a session is booked, for the moment its recovery ends."""
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Mapping

from shared.contract import RIDE_CANCELLED, RIDE_REQUESTED, Event, EventType, new_event


class RideStatus(StrEnum):
    REQUESTED = "requested"
    CANCELLED = "cancelled"


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

    def cancel(self, *, now: datetime) -> list[Event]:
        if self.status is RideStatus.CANCELLED:
            return []
        self.status = RideStatus.CANCELLED
        self.cancelled_at = now
        return [self._event(RIDE_CANCELLED)]

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
