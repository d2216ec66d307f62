"""The catalogue of events: one type, one version and one data schema each.

Routing keys are the event types. Evolve a type only by adding optional fields;
anything else is a new version, listed in ``versions``.
"""
from dataclasses import dataclass

from marshmallow import EXCLUDE, Schema, fields, validate

from .fields import UtcDateTime, identifier


class EventData(Schema):
    class Meta:
        unknown = EXCLUDE  # consumers ignore fields they do not know yet


class SessionBookedData(EventData):
    session_id = identifier(required=True)
    patient_id = identifier(required=True)
    treatment_type = fields.String(required=True)
    starts_at = UtcDateTime(required=True)
    treatment_ends_at = UtcDateTime(required=True)
    recovery_ends_at = UtcDateTime(required=True)
    chair_id = identifier(required=True)
    ride_home_mode = fields.String(required=True, validate=validate.OneOf(["escort", "none"]))


class SessionCancelledData(EventData):
    session_id = identifier(required=True)
    patient_id = identifier(required=True)
    reason = fields.String(load_default=None, allow_none=True)
    cancelled_at = UtcDateTime(required=True)


class RideData(EventData):
    ride_id = identifier(required=True)
    session_id = identifier(required=True)
    pickup_at = UtcDateTime(required=True)
    mode = fields.String(required=True)
    status = fields.String(required=True)


class NotificationData(EventData):
    notification_id = identifier(required=True)
    session_id = identifier(required=True)
    kind = fields.String(required=True)
    channel = fields.String(required=True)
    reason = fields.String(load_default=None, allow_none=True)


@dataclass(frozen=True)
class EventType:
    name: str
    data_schema: type[EventData]
    version: int = 1
    versions: tuple[int, ...] = (1,)

    def __str__(self) -> str:
        return self.name


SESSION_BOOKED = EventType("session.booked", SessionBookedData)
SESSION_CANCELLED = EventType("session.cancelled", SessionCancelledData)
RIDE_REQUESTED = EventType("ride.requested", RideData)
RIDE_CANCELLED = EventType("ride.cancelled", RideData)
NOTIFICATION_SENT = EventType("notification.sent", NotificationData)
NOTIFICATION_FAILED = EventType("notification.failed", NotificationData)

CATALOGUE: dict[str, EventType] = {
    t.name: t
    for t in (
        SESSION_BOOKED,
        SESSION_CANCELLED,
        RIDE_REQUESTED,
        RIDE_CANCELLED,
        NOTIFICATION_SENT,
        NOTIFICATION_FAILED,
    )
}
