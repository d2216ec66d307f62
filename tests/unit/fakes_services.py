"""Hand-written fakes of the services' repositories and ports, kept in memory, for the unit tier.

They go into ``fakes.FakeUnitOfWork(...)`` as keyword arguments (``rides=``); the notifications service's fakes are
in ``fakes_notifications.py``. The scheduler's use cases are tested on a real SQLite database.
"""

from dataclasses import replace

from services.transport.domain.rides import Ride

# --- transport ---------------------------------------------------------------------------------------------------


class FakeRideRepository:
    def __init__(self):
        self.by_id: dict[str, Ride] = {}

    def add(self, ride: Ride) -> None:
        if ride.id in self.by_id:
            raise ValueError(f"ride {ride.id} already stored")
        self.by_id[ride.id] = replace(ride)

    def save(self, ride: Ride) -> None:
        self.by_id[ride.id] = replace(ride)

    def for_session(self, session_id: str) -> list[Ride]:
        return sorted(
            (replace(r) for r in self.by_id.values() if r.session_id == session_id), key=lambda r: r.requested_at
        )

    def upcoming(self, limit: int = 100) -> list[Ride]:
        return sorted((replace(r) for r in self.by_id.values()), key=lambda r: r.pickup_at, reverse=True)[:limit]

    @property
    def all(self) -> list[Ride]:
        return list(self.by_id.values())
