"""A ride home and its lifecycle: every change is a step of ``TRANSITIONS`` and causes one contract event.

A ride is requested when its session is booked, for the moment the recovery buffer ends. The escort or the ride
provider confirms (or declines) it; a reschedule asks again in a new *round*; the discharge dispatches it; the
provider's completion closes it. A step the table does not list for the ride's status is refused (``Refused``).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

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
    EventType,
    new_event,
)

from .errors import Refused


class RideStatus(StrEnum):
    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    DISPATCHED = "dispatched"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class RideMode(StrEnum):
    ESCORT = "escort"
    PROVIDER = "provider"


class Step(StrEnum):
    CONFIRM = "confirm"
    DECLINE = "decline"
    RESCHEDULE = "reschedule"
    DISPATCH = "dispatch"
    COMPLETE = "complete"
    CANCEL = "cancel"


TRANSITIONS: dict[RideStatus, dict[Step, RideStatus]] = {
    RideStatus.REQUESTED: {
        Step.CONFIRM: RideStatus.CONFIRMED,
        Step.DECLINE: RideStatus.DECLINED,
        Step.RESCHEDULE: RideStatus.REQUESTED,
        # A patient released while the ride is still unconfirmed (check-in overridden) still needs to get home.
        Step.DISPATCH: RideStatus.DISPATCHED,
        Step.CANCEL: RideStatus.CANCELLED,
    },
    RideStatus.CONFIRMED: {
        # A new pickup time must be agreed again: the confirmation was for the old one.
        Step.RESCHEDULE: RideStatus.REQUESTED,
        Step.DECLINE: RideStatus.DECLINED,  # the provider cancelled a ride it had accepted
        Step.DISPATCH: RideStatus.DISPATCHED,
        Step.COMPLETE: RideStatus.COMPLETED,  # the provider's "completed" may overtake our own dispatch
        Step.CANCEL: RideStatus.CANCELLED,
    },
    # Declined is not the end: a reschedule asks again; until then the clinic arranges the ride by hand.
    RideStatus.DECLINED: {
        Step.RESCHEDULE: RideStatus.REQUESTED,
        Step.CANCEL: RideStatus.CANCELLED,
    },
    RideStatus.DISPATCHED: {
        Step.COMPLETE: RideStatus.COMPLETED,
        Step.DECLINE: RideStatus.DECLINED,  # the provider dropped the ride on the day
    },
    RideStatus.COMPLETED: {},
    RideStatus.CANCELLED: {},
}

STEP_EVENTS: dict[Step, EventType] = {
    Step.CONFIRM: RIDE_CONFIRMED,
    Step.DECLINE: RIDE_DECLINED,
    Step.RESCHEDULE: RIDE_RESCHEDULED,
    Step.DISPATCH: RIDE_DISPATCHED,
    Step.COMPLETE: RIDE_COMPLETED,
    Step.CANCEL: RIDE_CANCELLED,
}

DECLINED_AT_RISK = "declined"


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
    session_starts_at: datetime | None = None  # None only for rides stored before revision 0003
    round: int = 1  # each request of a confirmation; a reschedule asks again in the next round
    confirmed_at: datetime | None = None
    declined_at: datetime | None = None
    completed_at: datetime | None = None
    provider_ride_id: str | None = None
    provider_status: str | None = None

    def allows(self, step: Step) -> bool:
        return step in TRANSITIONS[self.status]

    def require(self, step: Step) -> None:
        if not self.allows(step):
            allowed = ", ".join(s.value for s in TRANSITIONS[self.status]) or "nothing"
            raise Refused(
                "transition_not_allowed",
                f"A {self.status.value} ride cannot {step.value}; it allows: {allowed}.",
            )

    def _advance(self, step: Step) -> Event:
        self.require(step)
        self.status = TRANSITIONS[self.status][step]
        return self.event(STEP_EVENTS[step])

    def confirm(self, *, now: datetime) -> list[Event]:
        event = self._advance(Step.CONFIRM)
        self.confirmed_at = now
        return [event]

    def decline(self, *, now: datetime) -> list[Event]:
        """Nobody will drive the patient: declined, and at risk at once so that the clinic acts today."""
        event = self._advance(Step.DECLINE)
        self.declined_at = now
        return [event, self.event(RIDE_AT_RISK, at_risk=DECLINED_AT_RISK)]

    def reschedule(self, *, pickup_at: datetime, session_starts_at: datetime) -> list[Event]:
        """A new time is a new request: the round changes, so answers and links of the old one no longer count."""
        event_type = STEP_EVENTS[Step.RESCHEDULE]
        self.require(Step.RESCHEDULE)
        self.status = TRANSITIONS[self.status][Step.RESCHEDULE]
        self.pickup_at = pickup_at
        self.session_starts_at = session_starts_at
        self.round += 1
        self.confirmed_at = self.declined_at = None
        return [self.event(event_type)]

    def dispatch(self, *, pickup_at: datetime, now: datetime) -> list[Event]:
        """Send the ride for ``pickup_at``, the moment the patient was released, early or late."""
        self.require(Step.DISPATCH)
        self.pickup_at = pickup_at
        event = self._advance(Step.DISPATCH)
        self.dispatched_at = now
        return [event]

    def complete(self, *, now: datetime) -> list[Event]:
        event = self._advance(Step.COMPLETE)
        self.completed_at = now
        return [event]

    def cancel(self, *, now: datetime) -> list[Event]:
        event = self._advance(Step.CANCEL)
        self.cancelled_at = now
        return [event]

    def event(self, event_type: EventType, *, at_risk: str | None = None) -> Event:
        data: dict[str, Any] = {
            "ride_id": self.id,
            "session_id": self.session_id,
            "pickup_at": self.pickup_at,
            "mode": self.mode,
            "status": self.status.value,
            "patient_id": self.patient_id,
        }
        if self.session_starts_at is not None:
            data["session_starts_at"] = self.session_starts_at
        if at_risk is not None:
            data["at_risk"] = at_risk
        return new_event(event_type, data, correlation_id=self.session_id)


def request_ride_home(
    *, ride_id: str, session_booked: Mapping[str, Any], now: datetime
) -> tuple[Ride | None, list[Event]]:
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
        session_starts_at=session_booked["starts_at"],
    )
    return ride, [ride.event(RIDE_REQUESTED)]
