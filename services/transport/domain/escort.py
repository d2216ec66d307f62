"""The escort's answer: a link names a ride and a round; it is good while that round waits for an answer.

The token's signature says the link is ours; these rules say whether it still counts. Only ``answer`` changes
anything, and only for a link that is open: opening a link (``link_state``) never does.
"""

from datetime import datetime
from enum import StrEnum

from .errors import Refused
from .rides import Ride, RideMode, RideStatus


class LinkState(StrEnum):
    OPEN = "open"
    USED = "used"  # the escort already answered this round
    EXPIRED = "expired"  # the pickup time passed
    REPLACED = "replaced"  # the session moved: a newer link asks about the new time
    CLOSED = "closed"  # the ride no longer waits for anyone's answer (cancelled, dispatched, completed)


class EscortAction(StrEnum):
    CONFIRM = "confirm"
    DECLINE = "decline"


class LinkNotOpen(Refused):
    def __init__(self, state: LinkState):
        super().__init__(f"link_{state.value}", MESSAGES[state])
        self.state = state


MESSAGES = {
    LinkState.USED: "This link was already used: the answer was recorded.",
    LinkState.EXPIRED: "This link has expired: the pickup time has passed.",
    LinkState.REPLACED: "This link was replaced: the pickup moved, and a newer message asks about the new time.",
    LinkState.CLOSED: "This ride no longer needs an answer.",
}


def link_state(ride: Ride, round: int, *, now: datetime) -> LinkState:
    if ride.mode != RideMode.ESCORT:
        return LinkState.CLOSED
    if round != ride.round:
        return LinkState.REPLACED
    if ride.status in (RideStatus.CONFIRMED, RideStatus.DECLINED):
        return LinkState.USED
    if ride.status is not RideStatus.REQUESTED:
        return LinkState.CLOSED
    if now >= ride.pickup_at:
        return LinkState.EXPIRED
    return LinkState.OPEN


def answer(ride: Ride, round: int, action: EscortAction, *, now: datetime) -> list:
    state = link_state(ride, round, now=now)
    if state is not LinkState.OPEN:
        raise LinkNotOpen(state)
    if action is EscortAction.CONFIRM:
        return ride.confirm(now=now)
    return ride.decline(now=now)


def require_awaiting_escort(ride: Ride, *, now: datetime) -> None:
    """A link is handed out only for a ride that waits for its escort's answer."""
    if link_state(ride, ride.round, now=now) is not LinkState.OPEN:
        raise Refused(
            "not_awaiting_escort", f"This {ride.mode} ride is {ride.status.value}: it waits for no escort's answer."
        )
