"""What the scheduler knows of a session's ride home: the latest status transport reported, never asked for.

Transport publishes a ``ride.*`` event for every change of a ride. Retries and dead-letter replays can deliver them
out of order, so a report older than the one already applied changes nothing: the newest report wins.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shared.contract import (
    RIDE_AT_RISK,
    RIDE_CANCELLED,
    RIDE_COMPLETED,
    RIDE_CONFIRMED,
    RIDE_DECLINED,
    RIDE_DISPATCHED,
    RIDE_REQUESTED,
    RIDE_RESCHEDULED,
)


class RideStatus(StrEnum):
    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    AT_RISK = "at_risk"
    DISPATCHED = "dispatched"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


# A ride that is on its way or done was confirmed first: each of these lets the patient be checked in.
CONFIRMED_STATUSES = frozenset({RideStatus.CONFIRMED, RideStatus.DISPATCHED, RideStatus.COMPLETED})
# At risk is a warning about a ride still waiting for its driver; a ride confirmed or ended is no longer at risk.
NEVER_AT_RISK = CONFIRMED_STATUSES | {RideStatus.CANCELLED}

STATUS_OF_EVENT = {
    RIDE_REQUESTED.name: RideStatus.REQUESTED,
    RIDE_CONFIRMED.name: RideStatus.CONFIRMED,
    RIDE_DECLINED.name: RideStatus.DECLINED,
    RIDE_DISPATCHED.name: RideStatus.DISPATCHED,
    RIDE_COMPLETED.name: RideStatus.COMPLETED,
    RIDE_CANCELLED.name: RideStatus.CANCELLED,
}


@dataclass(frozen=True)
class RideReport:
    """One ``ride.*`` event as the scheduler reads it: its type, the ride's status it reports, and when it happened."""

    event_type: str
    ride_status: str
    occurred_at: datetime


def ride_status_after(current: RideStatus | None, current_at: datetime | None, report: RideReport) -> RideStatus | None:
    """The session's ride status once ``report`` is applied, or None when the report changes nothing."""
    if current_at is not None and report.occurred_at < current_at:
        return None
    reported = RideStatus(report.ride_status)
    if report.event_type == RIDE_AT_RISK.name:
        # The report says what the ride was when the threshold passed: only a ride still unconfirmed is at risk.
        return None if reported in NEVER_AT_RISK else RideStatus.AT_RISK
    if report.event_type == RIDE_RESCHEDULED.name:
        # A moved ride may need confirming again (an escort asked anew) or stay confirmed (a provider moved it).
        return reported
    return STATUS_OF_EVENT[report.event_type]
