"""The transport service's use cases: each event handled once, its effect and its record in one transaction."""
import logging
import uuid
from datetime import datetime

from shared.contract import Event

from .domain.rides import Ride, RideStatus, dispatch_rides_home, request_ride_home, reschedule_rides_home

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
    """For session.cancelled and session.no_show alike: nobody is to be driven home."""
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


def reschedule_rides(event: Event, *, uow, now: datetime) -> None:
    with uow:
        if uow.inbox.already_processed(event):
            log.info("%s %s already handled", event.type, event.event_id)
            return
        rides = uow.rides.for_session(event.data["session_id"])
        events = reschedule_rides_home(rides, session_rescheduled=event.data)
        _save_changed(uow, rides, events)
        uow.outbox.add(events)
        uow.inbox.record(event)
        uow.commit()


def dispatch_rides(event: Event, *, uow, now: datetime) -> None:
    with uow:
        if uow.inbox.already_processed(event):
            log.info("%s %s already handled", event.type, event.event_id)
            return
        rides = uow.rides.for_session(event.data["session_id"])
        events = dispatch_rides_home(rides, session_discharged=event.data, now=now)
        _save_changed(uow, rides, events)
        uow.outbox.add(events)
        if event.data["ride_home_mode"] != "none" and not any(r.status is RideStatus.DISPATCHED for r in rides):
            # Not a reason to refuse the event: ops must arrange the ride home by hand.
            log.warning("session %s discharged but has no ride to dispatch", event.data["session_id"])
        uow.inbox.record(event)
        uow.commit()


def _save_changed(uow, rides: list[Ride], events: list[Event]) -> None:
    changed = {e.data["ride_id"] for e in events}
    for ride in rides:
        if ride.id in changed:
            uow.rides.save(ride)


def list_rides(*, session_id: str | None, uow) -> list[Ride]:
    with uow:
        return uow.rides.for_session(session_id) if session_id else uow.rides.upcoming()
