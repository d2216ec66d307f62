"""Rides in the transport service's database."""
from sqlalchemy import Connection, insert, select, update

from ..domain.rides import Ride, RideStatus
from .tables import rides


class SqlRideRepository:
    def __init__(self, connection: Connection):
        self._connection = connection

    def add(self, ride: Ride) -> None:
        self._connection.execute(insert(rides).values(**_row_of(ride)))

    def save(self, ride: Ride) -> None:
        self._connection.execute(update(rides).where(rides.c.id == ride.id).values(**_row_of(ride)))

    def for_session(self, session_id: str) -> list[Ride]:
        rows = self._connection.execute(select(rides).where(rides.c.session_id == session_id).order_by(rides.c.requested_at))
        return [_ride_of(row) for row in rows]

    def upcoming(self, limit: int = 100) -> list[Ride]:
        rows = self._connection.execute(select(rides).order_by(rides.c.pickup_at.desc()).limit(limit))
        return [_ride_of(row) for row in rows]


def _row_of(ride: Ride) -> dict:
    return {
        "id": ride.id,
        "session_id": ride.session_id,
        "patient_id": ride.patient_id,
        "mode": ride.mode,
        "pickup_at": ride.pickup_at,
        "status": ride.status.value,
        "requested_at": ride.requested_at,
        "cancelled_at": ride.cancelled_at,
        "dispatched_at": ride.dispatched_at,
    }


def _ride_of(row) -> Ride:
    return Ride(
        id=row.id,
        session_id=row.session_id,
        patient_id=row.patient_id,
        mode=row.mode,
        pickup_at=row.pickup_at,
        status=RideStatus(row.status),
        requested_at=row.requested_at,
        cancelled_at=row.cancelled_at,
        dispatched_at=row.dispatched_at,
    )
