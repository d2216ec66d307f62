"""The transport service's use cases: each event handled once, its effect and its record in one transaction."""
import logging
import uuid
from datetime import datetime

from shared.contract import Event

from .domain.rides import Ride, request_ride_home

log = logging.getLogger(__name__)


def request_ride(event: Event, *, uow, now: datetime) -> None:
    with uow:
        if uow.inbox.already_processed(event):
            log.info("%s %s already handled", event.type, event.event_id)
            return
        if uow.rides.for_session(event.data["session_id"]):
            log.info("session %s already has a ride", event.data["session_id"])
        else:
            ride, events = request_ride_home(ride_id=str(uuid.uuid4()), session_booked=event.data, now=now)
            if ride is not None:
                uow.rides.add(ride)
                uow.outbox.add(events)
        uow.inbox.record(event)
        uow.commit()


def cancel_rides(event: Event, *, uow, now: datetime) -> None:
    with uow:
        if uow.inbox.already_processed(event):
            log.info("%s %s already handled", event.type, event.event_id)
            return
        for ride in uow.rides.for_session(event.data["session_id"]):
            events = ride.cancel(now=now)
            uow.rides.save(ride)
            uow.outbox.add(events)
        uow.inbox.record(event)
        uow.commit()


def list_rides(*, session_id: str | None, uow) -> list[Ride]:
    with uow:
        return uow.rides.for_session(session_id) if session_id else uow.rides.upcoming()
