"""The catalogue of events: one type, one version and one data schema each.

Routing keys are the event types. Evolve a type only by adding optional fields;
anything else is a new version, listed in ``versions``.
"""

from dataclasses import dataclass

from marshmallow import EXCLUDE, Schema, fields, validate

from .fields import Identifier, StorableText, UtcDateTime


class EventData(Schema):
    class Meta:
        unknown = EXCLUDE  # consumers ignore fields they do not know yet


class SessionEventData(EventData):
    """Every session event names the session and its patient, by id only."""

    session_id = Identifier(required=True)
    patient_id = Identifier(required=True)


RIDE_HOME_MODES = ("escort", "provider", "none")
RIDE_MODES = ("escort", "provider")
RIDE_STATUSES = ("requested", "confirmed", "declined", "dispatched", "completed", "cancelled")
CHANNELS = ("sms", "email", "none")  # none: the patient could not be reached at all


def ride_home_mode_field() -> fields.String:
    return fields.String(required=True, validate=validate.OneOf(RIDE_HOME_MODES))


class SessionBookedData(SessionEventData):
    treatment_type = Identifier(required=True)
    starts_at = UtcDateTime(required=True)
    treatment_ends_at = UtcDateTime(required=True)
    recovery_ends_at = UtcDateTime(required=True)
    chair_id = Identifier(required=True)
    ride_home_mode = ride_home_mode_field()
    clinician_id = Identifier(load_default=None, allow_none=True)
    series_id = Identifier(load_default=None, allow_none=True)


class SessionCancelledData(SessionEventData):
    # A reason code such as patient_request, never the front desk's free-text note.
    reason = Identifier(load_default=None, allow_none=True)
    cancelled_at = UtcDateTime(required=True)
    late_cancellation = fields.Boolean(load_default=None, allow_none=True)


class SessionRescheduledData(SessionEventData):
    previous_starts_at = UtcDateTime(required=True)
    previous_recovery_ends_at = UtcDateTime(required=True)
    starts_at = UtcDateTime(required=True)
    treatment_ends_at = UtcDateTime(required=True)
    recovery_ends_at = UtcDateTime(required=True)
    chair_id = Identifier(required=True)
    clinician_id = Identifier(load_default=None, allow_none=True)
    ride_home_mode = ride_home_mode_field()


class SessionCheckedInData(SessionEventData):
    checked_in_at = UtcDateTime(required=True)


class SessionTreatmentStartedData(SessionEventData):
    """Treatment started; the session's times follow the actual start, the pickup (``recovery_ends_at``) too."""

    treatment_started_at = UtcDateTime(required=True)
    treatment_ends_at = UtcDateTime(load_default=None, allow_none=True)
    recovery_ends_at = UtcDateTime(load_default=None, allow_none=True)
    chair_free_at = UtcDateTime(load_default=None, allow_none=True)


class SessionDischargedData(SessionEventData):
    """The clinician released the patient: ``discharged_at`` is when the ride home is needed, early or late."""

    discharged_at = UtcDateTime(required=True)
    planned_recovery_ends_at = UtcDateTime(required=True)
    ride_home_mode = ride_home_mode_field()


class SessionNoShowData(SessionEventData):
    starts_at = UtcDateTime(required=True)
    recorded_at = UtcDateTime(required=True)


class RideData(EventData):
    """A ride home after a change: ``status`` is the ride's status once the change is made."""

    ride_id = Identifier(required=True)
    session_id = Identifier(required=True)
    pickup_at = UtcDateTime(required=True)
    mode = fields.String(required=True, validate=validate.OneOf(RIDE_MODES))
    status = fields.String(required=True, validate=validate.OneOf(RIDE_STATUSES))
    patient_id = Identifier(load_default=None, allow_none=True)
    # ride.at_risk: which threshold before the session's start passed unconfirmed ("24h", "2h"), or "declined".
    at_risk = Identifier(load_default=None, allow_none=True)
    # When the session starts: what the thresholds are counted back from.
    session_starts_at = UtcDateTime(load_default=None, allow_none=True)


class NotificationData(EventData):
    notification_id = Identifier(required=True)
    session_id = Identifier(required=True)
    # Kinds grow with each message the clinic sends (instructions, reminders): an open set of ids.
    kind = Identifier(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    # What failed, for people reading the event; never the message's text.
    reason = StorableText(max_length=500, load_default=None, allow_none=True)


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
SESSION_RESCHEDULED = EventType("session.rescheduled", SessionRescheduledData)
SESSION_CHECKED_IN = EventType("session.checked_in", SessionCheckedInData)
SESSION_TREATMENT_STARTED = EventType("session.treatment_started", SessionTreatmentStartedData)
SESSION_DISCHARGED = EventType("session.discharged", SessionDischargedData)
SESSION_NO_SHOW = EventType("session.no_show", SessionNoShowData)
RIDE_REQUESTED = EventType("ride.requested", RideData)
RIDE_CANCELLED = EventType("ride.cancelled", RideData)
RIDE_RESCHEDULED = EventType("ride.rescheduled", RideData)
RIDE_DISPATCHED = EventType("ride.dispatched", RideData)
RIDE_CONFIRMED = EventType("ride.confirmed", RideData)
RIDE_DECLINED = EventType("ride.declined", RideData)
RIDE_AT_RISK = EventType("ride.at_risk", RideData)
RIDE_COMPLETED = EventType("ride.completed", RideData)
NOTIFICATION_SENT = EventType("notification.sent", NotificationData)
NOTIFICATION_FAILED = EventType("notification.failed", NotificationData)

CATALOGUE: dict[str, EventType] = {
    t.name: t
    for t in (
        SESSION_BOOKED,
        SESSION_CANCELLED,
        SESSION_RESCHEDULED,
        SESSION_CHECKED_IN,
        SESSION_TREATMENT_STARTED,
        SESSION_DISCHARGED,
        SESSION_NO_SHOW,
        RIDE_REQUESTED,
        RIDE_CANCELLED,
        RIDE_RESCHEDULED,
        RIDE_DISPATCHED,
        RIDE_CONFIRMED,
        RIDE_DECLINED,
        RIDE_AT_RISK,
        RIDE_COMPLETED,
        NOTIFICATION_SENT,
        NOTIFICATION_FAILED,
    )
}
