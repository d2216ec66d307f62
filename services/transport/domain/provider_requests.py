"""What transport still has to tell the ride provider: a pending request, written in the transaction of the event
that caused it and carried out later by a worker, so that no message waits on the provider."""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from shared.contract import Event

from .rides import Ride, RideStatus, Step

MAX_BACKOFF = timedelta(seconds=60)
FIRST_BACKOFF = timedelta(seconds=1)


class ProviderAction(StrEnum):
    BOOK = "book"  # or move, when the provider already has the ride: make it pick up at the ride's time
    DISPATCH = "dispatch"
    CANCEL = "cancel"


@dataclass
class ProviderRequest:
    ride_id: str
    action: ProviderAction
    round: int
    created_at: datetime
    next_attempt_at: datetime
    id: int | None = None
    attempts: int = 0
    done_at: datetime | None = None
    outcome: str | None = None
    last_error: str | None = None

    def idempotency_key(self, what: str | None = None) -> str:
        """One key per ride, action and round: a call repeated after a crash or a timeout books no second driver."""
        return f"{self.ride_id}-{what or self.action.value}-{self.round}"

    def failed_for_now(self, error: str, *, now: datetime, rng: random.Random | None = None) -> None:
        self.attempts += 1
        self.last_error = error[:200]
        self.next_attempt_at = now + backoff(self.attempts, rng=rng)

    def finish(self, outcome: str, *, now: datetime) -> None:
        self.done_at = now
        self.outcome = outcome


def backoff(attempts: int, *, rng: random.Random | None = None) -> timedelta:
    """Exponential with full jitter, capped: a busy morning's many waiting rides do not all retry together."""
    ceiling = min(FIRST_BACKOFF * 2 ** min(attempts - 1, 16), MAX_BACKOFF)
    return ceiling * (0.5 + 0.5 * (rng or random).random())


def provider_request(ride_id: str, action: ProviderAction, round: int, *, now: datetime) -> ProviderRequest:
    return ProviderRequest(ride_id=ride_id, action=action, round=round, created_at=now, next_attempt_at=now)


@dataclass(frozen=True)
class Accepted:
    provider_ride_id: str
    provider_status: str


@dataclass(frozen=True)
class ProviderSaidNo:
    code: str


@dataclass(frozen=True)
class NothingToDo:
    reason: str


Outcome = Accepted | ProviderSaidNo | NothingToDo


def settle(ride: Ride, request: ProviderRequest, outcome: Outcome, *, now: datetime) -> list[Event]:
    """What the provider's answer does to the ride, judged on the ride as it is now (it may have moved on while the
    provider was asked): only the answer to the ride's current round confirms or declines it."""
    request.finish(_outcome_name(outcome), now=now)
    current = ride.round == request.round and ride.status is RideStatus.REQUESTED
    if isinstance(outcome, Accepted):
        if request.action is ProviderAction.BOOK:
            ride.provider_ride_id = outcome.provider_ride_id
            ride.provider_status = outcome.provider_status
            if current:
                return ride.confirm(now=now)
        return []
    if isinstance(outcome, ProviderSaidNo):
        if request.action is ProviderAction.BOOK and current:
            return ride.decline(now=now)
        if (
            request.action is ProviderAction.DISPATCH
            and ride.status is RideStatus.DISPATCHED
            and ride.allows(Step.DECLINE)
        ):
            return ride.decline(now=now)
    return []


def _outcome_name(outcome: Outcome) -> str:
    if isinstance(outcome, Accepted):
        return "accepted"
    if isinstance(outcome, ProviderSaidNo):
        return f"refused:{outcome.code}"[:32]
    return outcome.reason[:32]
