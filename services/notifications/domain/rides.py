"""What a ride home asks of notifications: which ride events call for a message to the escort, and the link port."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class EscortLink:
    """Where the escort confirms or declines: a bearer credential, so it is never logged nor published."""

    url: str
    expires_at: datetime | None

    def __repr__(self) -> str:
        return f"EscortLink(url=<hidden>, expires_at={self.expires_at!r})"


class NoLongerAwaitingEscort(Exception):
    """Transport says the ride no longer waits for the escort's answer (answered, moved or cancelled): ask nobody."""


class EscortLinks(Protocol):
    def escort_link(self, ride_id: str) -> EscortLink:
        """The current link for the ride; raises NoLongerAwaitingEscort, or anything else for a passing failure."""


def asks_the_escort(ride: Mapping[str, Any]) -> bool:
    """A requested escort ride, first or after a reschedule, waits for the escort to say yes or no."""
    return ride["mode"] == "escort" and ride["status"] == "requested"


def calls_the_escort_in(ride: Mapping[str, Any]) -> bool:
    """A dispatched escort ride means the patient is ready now; a provider's driver is told by the provider."""
    return ride["mode"] == "escort"
