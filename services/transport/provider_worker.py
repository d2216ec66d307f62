"""The provider worker: carries out pending provider requests after their commit, outside any message handler.

A slow or absent provider only makes requests wait in the database (with their attempts and next time, backing off
up to a minute); no message is held meanwhile. Each call carries an idempotency key per ride, action and round, so
a call repeated after a crash between the provider's answer and our commit finds the ride the provider already has.
"""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from shared.polling import PollingWorker
from shared.redaction import describe

from .adapters.ride_provider import ProviderRefused, ProviderUnavailable
from .adapters.scheduler_directory import SchedulerUnavailable
from .domain.provider import ProviderBooking, ProviderRide
from .domain.provider_requests import (
    Accepted,
    NothingToDo,
    Outcome,
    ProviderAction,
    ProviderRequest,
    ProviderSaidNo,
    settle,
)
from .domain.rides import Ride, RideStatus

log = logging.getLogger(__name__)

# Long enough for the client's own retries; a worker that died holding a row lets it go after this.
CLAIM = timedelta(seconds=120)
OVER = frozenset({RideStatus.CANCELLED, RideStatus.DECLINED, RideStatus.COMPLETED})


class RideProvider(Protocol):
    def book(self, booking: ProviderBooking, *, idempotency_key: str | None = None) -> ProviderRide: ...
    def move(self, provider_ride_id: str, pickup_at: datetime, *, idempotency_key: str) -> ProviderRide: ...
    def dispatch(self, provider_ride_id: str, *, idempotency_key: str) -> ProviderRide: ...
    def cancel(self, provider_ride_id: str, *, idempotency_key: str) -> ProviderRide: ...


class Places(Protocol):
    def clinic(self): ...
    def dropoff_address(self, session_id: str) -> str: ...


def due_requests(*, uow, now: datetime) -> list[ProviderRequest]:
    """The oldest pending request of each ride, when its time came: a ride's requests go out in order."""
    with uow.read_only():
        pending = uow.provider_requests.pending()
    first: dict[str, ProviderRequest] = {}
    for request in pending:
        first.setdefault(request.ride_id, request)
    return [r for r in first.values() if r.next_attempt_at <= now]


def claim(request: ProviderRequest, *, uow, now: datetime) -> Ride | None | bool:
    """Take the request for this worker; the ride as it is now, or False when another worker has it."""
    with uow:
        if not uow.provider_requests.claim(request.id, now=now, until=now + CLAIM):
            return False
        ride = uow.rides.get(request.ride_id)
        uow.commit()
    return ride


def carry_out(request: ProviderRequest, ride: Ride | None, *, provider: RideProvider, places: Places) -> Outcome:
    """Ask the provider. Raises ProviderUnavailable or SchedulerUnavailable when it is to be tried again later."""
    if ride is None:
        return NothingToDo("no_ride")
    if request.action is ProviderAction.BOOK:
        if ride.status in OVER or request.round < ride.round:
            return NothingToDo("superseded")
        return _arrange(request, ride, provider, places)
    if ride.provider_ride_id is None:
        # Never booked (refused, or cancelled before the booking went out): the provider has nothing to change.
        return NothingToDo("not_booked")
    try:
        if request.action is ProviderAction.DISPATCH:
            answer = provider.dispatch(ride.provider_ride_id, idempotency_key=request.idempotency_key())
        else:
            answer = provider.cancel(ride.provider_ride_id, idempotency_key=request.idempotency_key())
    except ProviderRefused as refusal:
        return ProviderSaidNo(refusal.code)
    return Accepted(answer.id, answer.status)


def _arrange(request: ProviderRequest, ride: Ride, provider: RideProvider, places: Places) -> Outcome:
    """The provider's ride picks up at the ride's time: moved when it exists, booked (will-call) otherwise."""
    if ride.provider_ride_id is not None:
        try:
            answer = provider.move(
                ride.provider_ride_id, ride.pickup_at, idempotency_key=request.idempotency_key("move")
            )
            return Accepted(answer.id, answer.status)
        except ProviderRefused as refusal:
            log.info("ride %s: the provider refused the move (%s); booking anew", ride.id, refusal.code)
            _let_go(provider, ride.provider_ride_id, request)
            key = request.idempotency_key("rebook")
    else:
        key = request.idempotency_key("book")
    booking = ProviderBooking(
        ride_id=ride.id,
        pickup_at=ride.pickup_at,
        pickup_address=_clinic_address(places),
        dropoff_address=places.dropoff_address(ride.session_id),
        will_call=True,
    )
    try:
        answer = provider.book(booking, idempotency_key=key)
    except ProviderRefused as refusal:
        return ProviderSaidNo(refusal.code)
    return Accepted(answer.id, answer.status)


def _clinic_address(places: Places) -> str:
    address = places.clinic().address
    if not address:
        raise SchedulerUnavailable("the clinic has no address to be picked up at")
    return address


def _let_go(provider: RideProvider, provider_ride_id: str, request: ProviderRequest) -> None:
    try:
        provider.cancel(provider_ride_id, idempotency_key=request.idempotency_key("replace"))
    except (ProviderRefused, ProviderUnavailable) as exc:
        log.warning("ride %s: the replaced provider ride was not cancelled: %s", request.ride_id, describe(exc))


def record(request: ProviderRequest, outcome: Outcome, *, uow, now: datetime) -> None:
    """The answer, its effect on the ride and its events, in one commit."""
    with uow:
        ride = uow.rides.get_for_update(request.ride_id)
        events = settle(ride, request, outcome, now=now) if ride is not None else []
        if ride is not None:
            uow.rides.save(ride)
        if ride is None:
            request.finish("no_ride", now=now)
        uow.provider_requests.save(request)
        uow.outbox.add(events)
        uow.commit()
    log.info("ride %s: provider %s %s", request.ride_id, request.action.value, request.outcome)


def postpone(request: ProviderRequest, error: Exception, *, uow, now: datetime) -> None:
    with uow:
        request.failed_for_now(describe(error), now=now)
        uow.provider_requests.save(request)
        uow.commit()
    log.warning(
        "ride %s: provider %s postponed (attempt %d, %s): %s",
        request.ride_id,
        request.action.value,
        request.attempts,
        request.next_attempt_at.isoformat(),
        describe(error),
    )


def work_once(*, uow_factory: Callable, provider: RideProvider, places: Places, clock: Callable[[], datetime]) -> int:
    """Carry out every due request once; how many were taken."""
    taken = 0
    for request in due_requests(uow=uow_factory(), now=clock()):
        ride = claim(request, uow=uow_factory(), now=clock())
        if ride is False:
            continue
        taken += 1
        try:
            outcome = carry_out(request, ride, provider=provider, places=places)
        except (ProviderUnavailable, SchedulerUnavailable) as exc:
            postpone(request, exc, uow=uow_factory(), now=clock())
            continue
        record(request, outcome, uow=uow_factory(), now=clock())
    return taken


class ProviderWorker(PollingWorker):
    def __init__(
        self,
        uow_factory: Callable,
        provider: RideProvider,
        places: Places,
        *,
        clock: Callable[[], datetime],
        poll_interval: float = 1.0,
    ):
        super().__init__(
            "provider worker",
            lambda: work_once(uow_factory=uow_factory, provider=provider, places=places, clock=clock),
            poll_interval=poll_interval,
        )
