"""The event contract: the one place that names events, their routing keys and their schemas."""
from .envelope import Event, InvalidEvent, from_json, new_event, to_json
from .events import (
    CATALOGUE,
    NOTIFICATION_FAILED,
    NOTIFICATION_SENT,
    RIDE_CANCELLED,
    RIDE_REQUESTED,
    SESSION_BOOKED,
    SESSION_CANCELLED,
    EventType,
)

__all__ = [
    "CATALOGUE",
    "Event",
    "EventType",
    "InvalidEvent",
    "NOTIFICATION_FAILED",
    "NOTIFICATION_SENT",
    "RIDE_CANCELLED",
    "RIDE_REQUESTED",
    "SESSION_BOOKED",
    "SESSION_CANCELLED",
    "from_json",
    "new_event",
    "to_json",
]
