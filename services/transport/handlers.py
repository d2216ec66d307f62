"""The transport service's use cases: each event handled once, its effect and its record in one transaction; the
escort's answer; a provider's webhook; what the API reads.

Nothing here talks to the ride provider: a provider ride's change is a pending request written with the ride, for
the provider worker (provider_worker.py) to carry out after the commit.
"""

import logging
import uuid
from collections.abc import Callable
from datetime import datetime

from shared.contract import Event
from shared.contract.fields import is_id

from .domain import at_risk
from .domain.at_risk import Threshold, parse_thresholds
from .domain.errors import NotFound
from .domain.escort import EscortAction, LinkState, answer, link_state, require_awaiting_escort
from .domain.provider import WebhookNotice
from .domain.provider_requests import ProviderAction, provider_request
from .domain.rides import Ride, RideMode, Step, request_ride_home
from .domain.webhooks import apply_notice

log = logging.getLogger(__name__)

DEFAULT_THRESHOLDS = parse_thresholds("24h,2h")


# --- session events ------------------------------------------------------------------------------------------------


def request_ride(event: Event, *, uow, now: datetime, thresholds: tuple[Threshold, ...] = DEFAULT_THRESHOLDS) -> None:
    with uow:
        if uow.inbox.already_processed(event):
            log.info("%s %s already handled", event.type, event.event_id)
            return
        session_id = event.data["session_id"]
        if uow.tombstones.exists(session_id):
            # A cancellation overtook this booking (a replayed dead letter): the session is over before it began.
            log.info("session %s was cancelled before its booking arrived: no ride", session_id)
        elif uow.rides.for_session(session_id):
            log.info("session %s already has a ride", session_id)
        else:
            ride, events = request_ride_home(ride_id=str(uuid.uuid4()), session_booked=event.data, now=now)
            if ride is not None:
                uow.rides.add(ride)
                events += _arm(ride, uow, thresholds, now)
                _ask_provider(ride, ProviderAction.BOOK, uow, now)
                uow.outbox.add(events)
        uow.inbox.record(event)
        uow.commit()


def cancel_rides(event: Event, *, uow, now: datetime) -> None:
    """For session.cancelled and session.no_show alike: nobody is to be driven home."""

    def cancel(rides: list[Ride]) -> list[Event]:
        if not rides:
            uow.tombstones.add(event.data["session_id"], event_type=event.type, now=now)
        events = []
        for ride in _able(rides, Step.CANCEL, event):
            events += ride.cancel(now=now)
            _ask_provider(ride, ProviderAction.CANCEL, uow, now)
        return events

    _change_rides(event, uow, cancel)


def reschedule_rides(
    event: Event, *, uow, now: datetime, thresholds: tuple[Threshold, ...] = DEFAULT_THRESHOLDS
) -> None:
    """The session moved: its ride is wanted when the new recovery buffer ends, and must be agreed again."""
    data = event.data

    def reschedule(rides: list[Ride]) -> list[Event]:
        if data["ride_home_mode"] == "none":
            return []
        moved = [
            r for r in rides if (r.pickup_at, r.session_starts_at) != (data["recovery_ends_at"], data["starts_at"])
        ]
        events = []
        for ride in _able(moved, Step.RESCHEDULE, event):
            events += ride.reschedule(pickup_at=data["recovery_ends_at"], session_starts_at=data["starts_at"])
            events += _arm(ride, uow, thresholds, now)
            _ask_provider(ride, ProviderAction.BOOK, uow, now)
        return events

    _change_rides(event, uow, reschedule)


def dispatch_rides(event: Event, *, uow, now: datetime) -> None:
    """The patient was released: the ride is sent for the moment of discharge, early or late."""
    data = event.data

    def dispatch(rides: list[Ride]) -> list[Event]:
        if data["ride_home_mode"] == "none":
            return []
        events = []
        for ride in _able(rides, Step.DISPATCH, event):
            events += ride.dispatch(pickup_at=data["discharged_at"], now=now)
            _ask_provider(ride, ProviderAction.DISPATCH, uow, now)
        if not events:
            # Not a reason to refuse the event: ops must arrange the ride home by hand.
            log.warning("session %s discharged but has no ride to dispatch", data["session_id"])
        return events

    _change_rides(event, uow, dispatch)


def _change_rides(event: Event, uow, change: Callable[[list[Ride]], list[Event]]) -> None:
    """Apply ``change`` to the session's rides once per event: the rides, their events and the inbox in one commit."""
    with uow:
        if uow.inbox.already_processed(event):
            log.info("%s %s already handled", event.type, event.event_id)
            return
        rides = uow.rides.for_session(event.data["session_id"], for_update=True)
        events = change(rides)
        changed = {e.data["ride_id"] for e in events}
        for ride in rides:
            if ride.id in changed:
                uow.rides.save(ride)
        uow.outbox.add(events)
        uow.inbox.record(event)
        uow.commit()


def _able(rides: list[Ride], step: Step, event: Event) -> list[Ride]:
    """The rides the step applies to; for the others the event came too late (a dispatch of a cancelled ride): that
    is logged and skipped, not refused, as the event itself is sound."""
    able = [ride for ride in rides if ride.allows(step)]
    for ride in rides:
        if ride not in able:
            log.info("%s: ride %s is %s and does not %s", event.type, ride.id, ride.status.value, step.value)
    return able


def _arm(ride: Ride, uow, thresholds: tuple[Threshold, ...], now: datetime) -> list[Event]:
    checks, events = at_risk.arm(ride, thresholds, now=now)
    uow.at_risk_checks.replace_for_ride(ride.id, checks)
    return events


def _ask_provider(ride: Ride, action: ProviderAction, uow, now: datetime) -> None:
    if ride.mode == RideMode.PROVIDER:
        uow.provider_requests.add(provider_request(ride.id, action, ride.round, now=now))


# --- the escort's answer -------------------------------------------------------------------------------------------


def ride_awaiting_escort(ride_id: str, *, uow, now: datetime) -> Ride:
    """The ride whose escort is to be asked; refused unless it waits for that answer now."""
    with uow.read_only():
        ride = uow.rides.get(ride_id)
    if ride is None:
        raise NotFound("ride", ride_id)
    require_awaiting_escort(ride, now=now)
    return ride


def escort_page(ride_id: str, round: int, *, uow, now: datetime) -> tuple[Ride, LinkState]:
    """What opening a link shows. It only reads: a link preview or a mail scanner changes nothing."""
    with uow.read_only():
        ride = uow.rides.get(ride_id)
    if ride is None:
        raise NotFound("ride", ride_id)
    return ride, link_state(ride, round, now=now)


def answer_escort(ride_id: str, round: int, action: EscortAction, *, uow, now: datetime) -> Ride:
    with uow:
        ride = uow.rides.get_for_update(ride_id)
        if ride is None:
            raise NotFound("ride", ride_id)
        events = answer(ride, round, action, now=now)
        uow.rides.save(ride)
        uow.outbox.add(events)
        uow.commit()
    log.info("ride %s: the escort answered %s", ride.id, action.value)
    return ride


# --- the provider's webhooks ---------------------------------------------------------------------------------------


def receive_webhook(notice: WebhookNotice, *, uow, now: datetime) -> str:
    """Apply a verified webhook once; the answer says what became of it (for the log and the reply)."""
    with uow:
        if uow.webhook_notices.seen(notice.id):
            log.info("webhook %s already applied", notice.id)
            return "duplicate"
        ride = uow.rides.get_for_update(notice.reference) if is_id(notice.reference) else None
        # Claimed before it is applied: a copy arriving at the same moment waits on the ride's lock or on this
        # row's key, then finds it recorded, and changes nothing.
        if not uow.webhook_notices.record(notice.id, type=notice.type, ride_id=ride.id if ride else None, now=now):
            log.info("webhook %s already applied", notice.id)
            return "duplicate"
        if ride is None:
            outcome = "unknown_ride"
            log.warning("webhook %s (%s) names no ride of ours", notice.id, notice.type)
        else:
            uow.outbox.add(apply_notice(ride, notice, now=now))
            uow.rides.save(ride)
            outcome = "applied"
        uow.commit()
    return outcome


# --- what the API reads --------------------------------------------------------------------------------------------


def list_rides(*, session_id: str | None = None, window: tuple[datetime, datetime] | None = None, uow) -> list[Ride]:
    with uow.read_only():
        if session_id is None:
            return uow.rides.picked_up_between(*window) if window else []
        rides = uow.rides.for_session(session_id)
    if window is None:
        return rides
    return [ride for ride in rides if window[0] <= ride.pickup_at < window[1]]


def get_ride(ride_id: str, *, uow) -> Ride:
    with uow.read_only():
        ride = uow.rides.get(ride_id)
    if ride is None:
        raise NotFound("ride", ride_id)
    return ride
