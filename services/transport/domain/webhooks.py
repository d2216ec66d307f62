"""What a verified webhook of the ride provider does to a ride. Webhooks repeat and overtake each other: a notice
that says less than the ride already knows (an earlier step, another booking of the same ride) changes nothing."""

import logging
from datetime import datetime

from shared.contract import Event

from .provider import (
    CANCELLED_WEBHOOK,
    COMPLETED_WEBHOOK,
    DRIVER_ARRIVED_WEBHOOK,
    DRIVER_ASSIGNED_WEBHOOK,
    WebhookNotice,
)
from .rides import Ride, Step

log = logging.getLogger(__name__)

# How far along the provider's driver flow a notice is; the ride only ever moves forward along it.
PROGRESS = {
    DRIVER_ASSIGNED_WEBHOOK: 1,
    DRIVER_ARRIVED_WEBHOOK: 2,
    COMPLETED_WEBHOOK: 3,
    CANCELLED_WEBHOOK: 3,
}
PROGRESS_OF_STATUS = {"driver_assigned": 1, "driver_arrived": 2, "completed": 3, "cancelled": 3}


def apply_notice(ride: Ride, notice: WebhookNotice, *, now: datetime) -> list[Event]:
    progress = PROGRESS.get(notice.type)
    if progress is None:
        log.info("ride %s: webhook type %s is not one transport acts on", ride.id, notice.type)
        return []
    if ride.provider_ride_id is not None and notice.provider_ride_id != ride.provider_ride_id:
        log.info("ride %s: webhook %s is about an earlier booking; ignored", ride.id, notice.id)
        return []
    if progress <= PROGRESS_OF_STATUS.get(ride.provider_status or "", 0):
        log.info("ride %s: webhook %s (%s) came after a later one; ignored", ride.id, notice.id, notice.type)
        return []
    ride.provider_status = notice.status
    if notice.type == COMPLETED_WEBHOOK and ride.allows(Step.COMPLETE):
        return ride.complete(now=now)
    if notice.type == CANCELLED_WEBHOOK and ride.allows(Step.DECLINE):
        # The provider dropped the ride: nobody comes for the patient unless the clinic acts.
        return ride.decline(now=now)
    if notice.type in (COMPLETED_WEBHOOK, CANCELLED_WEBHOOK):
        log.info("ride %s is %s: webhook %s recorded, no step taken", ride.id, ride.status.value, notice.type)
    return []
