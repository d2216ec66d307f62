"""The transport service's use cases: each event handled once, its effect and its record in one transaction."""
import logging
import uuid
from datetime import datetime
from typing import Callable

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
    _change_rides(event, uow, lambda rides: [change for ride in rides for change in ride.cancel(now=now)])


def reschedule_rides(event: Event, *, uow, now: datetime) -> None:
    _change_rides(event, uow, lambda rides: reschedule_rides_home(rides, session_rescheduled=event.data))


def dispatch_rides(event: Event, *, uow, now: datetime) -> None:
    def dispatch(rides: list[Ride]) -> list[Event]:
        events = dispatch_rides_home(rides, session_discharged=event.data, now=now)
        if event.data["ride_home_mode"] != "none" and not any(r.status is RideStatus.DISPATCHED for r in rides):
            # Not a reason to refuse the event: ops must arrange the ride home by hand.
            log.warning("session %s discharged but has no ride to dispatch", event.data["session_id"])
        return events

    _change_rides(event, uow, dispatch)


def _change_rides(event: Event, uow, change: Callable[[list[Ride]], list[Event]]) -> None:
    """Apply ``change`` to the session's rides once per event: the rides, their events and the inbox in one commit."""
    with uow:
        if uow.inbox.already_processed(event):
            log.info("%s %s already handled", event.type, event.event_id)
            return
        rides = uow.rides.for_session(event.data["session_id"])
        events = change(rides)
        changed = {e.data["ride_id"] for e in events}
        for ride in rides:
            if ride.id in changed:
                uow.rides.save(ride)
        uow.outbox.add(events)
        uow.inbox.record(event)
        uow.commit()


def list_rides(*, session_id: str | None, uow) -> list[Ride]:
    with uow.read_only():
        return uow.rides.for_session(session_id) if session_id else uow.rides.upcoming()
