"""The escort's confirmation link, asked of transport when the escort's message is sent: the port and its answers."""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


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
        ...
