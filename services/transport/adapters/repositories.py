"""Rides, tombstones, pending provider requests, at-risk checks and applied webhooks in transport's database."""

from datetime import datetime

from sqlalchemy import Connection, and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..domain.at_risk import AtRiskCheck
from ..domain.provider_requests import ProviderAction, ProviderRequest
from ..domain.rides import Ride, RideStatus
from .tables import at_risk_checks, provider_requests, rides, tombstones, webhook_notices

RIDE_FIELDS = [c.name for c in rides.columns]


class SqlRideRepository:
    def __init__(self, connection: Connection):
        self._connection = connection

    def add(self, ride: Ride) -> None:
        self._connection.execute(insert(rides).values(**_row_of(ride)))

    def save(self, ride: Ride) -> None:
        self._connection.execute(update(rides).where(rides.c.id == ride.id).values(**_row_of(ride)))

    def get(self, ride_id: str) -> Ride | None:
        row = self._connection.execute(select(rides).where(rides.c.id == ride_id)).first()
        return _ride_of(row) if row else None

    def get_for_update(self, ride_id: str) -> Ride | None:
        """The ride, locked until the transaction ends (PostgreSQL; SQLite's write transactions are serial anyway)."""
        row = self._connection.execute(select(rides).where(rides.c.id == ride_id).with_for_update()).first()
        return _ride_of(row) if row else None

    def for_session(self, session_id: str, *, for_update: bool = False) -> list[Ride]:
        query = select(rides).where(rides.c.session_id == session_id).order_by(rides.c.requested_at, rides.c.id)
        rows = self._connection.execute(query.with_for_update() if for_update else query)
        return [_ride_of(row) for row in rows]

    def picked_up_between(self, start: datetime, end: datetime) -> list[Ride]:
        query = (
            select(rides)
            .where(rides.c.pickup_at >= start, rides.c.pickup_at < end)
            .order_by(rides.c.pickup_at, rides.c.id)
        )
        return [_ride_of(row) for row in self._connection.execute(query)]


class SqlTombstoneRepository:
    def __init__(self, connection: Connection):
        self._connection = connection

    def exists(self, session_id: str) -> bool:
        return (
            self._connection.execute(
                select(tombstones.c.session_id).where(tombstones.c.session_id == session_id)
            ).first()
            is not None
        )

    def add(self, session_id: str, *, event_type: str, now: datetime) -> None:
        if not self.exists(session_id):
            self._connection.execute(
                insert(tombstones).values(session_id=session_id, event_type=event_type, recorded_at=now)
            )


class SqlProviderRequestRepository:
    def __init__(self, connection: Connection):
        self._connection = connection

    def add(self, request: ProviderRequest) -> None:
        values = _request_row(request)
        values.pop("id")
        self._connection.execute(insert(provider_requests).values(**values))

    def save(self, request: ProviderRequest) -> None:
        values = _request_row(request)
        values["claimed_until"] = None
        self._connection.execute(update(provider_requests).where(provider_requests.c.id == request.id).values(**values))

    def get(self, request_id: int) -> ProviderRequest | None:
        row = self._connection.execute(select(provider_requests).where(provider_requests.c.id == request_id)).first()
        return _request_of(row) if row else None

    def pending(self, limit: int = 200) -> list[ProviderRequest]:
        query = (
            select(provider_requests)
            .where(provider_requests.c.done_at.is_(None))
            .order_by(provider_requests.c.id)
            .limit(limit)
        )
        return [_request_of(row) for row in self._connection.execute(query)]

    def claim(self, request_id: int, *, now: datetime, until: datetime) -> bool:
        """Take the row for this worker until ``until``; False when another worker holds it or it is done."""
        result = self._connection.execute(
            update(provider_requests)
            .where(
                provider_requests.c.id == request_id,
                provider_requests.c.done_at.is_(None),
                or_(provider_requests.c.claimed_until.is_(None), provider_requests.c.claimed_until < now),
            )
            .values(claimed_until=until)
        )
        return result.rowcount == 1

    def for_ride(self, ride_id: str) -> list[ProviderRequest]:
        query = select(provider_requests).where(provider_requests.c.ride_id == ride_id).order_by(provider_requests.c.id)
        return [_request_of(row) for row in self._connection.execute(query)]


class SqlAtRiskCheckRepository:
    def __init__(self, connection: Connection):
        self._connection = connection

    def replace_for_ride(self, ride_id: str, checks: list[AtRiskCheck]) -> None:
        """The ride's schedule from now on: unsettled checks of earlier rounds go; settled ones stay as history."""
        self._connection.execute(
            delete(at_risk_checks).where(at_risk_checks.c.ride_id == ride_id, at_risk_checks.c.checked_at.is_(None))
        )
        if checks:
            self._connection.execute(insert(at_risk_checks), [_check_row(c) for c in checks])

    def due(self, now: datetime, limit: int = 200) -> list[AtRiskCheck]:
        query = (
            select(at_risk_checks)
            .where(and_(at_risk_checks.c.checked_at.is_(None), at_risk_checks.c.due_at <= now))
            .order_by(at_risk_checks.c.due_at)
            .limit(limit)
        )
        # Two replicas' workers skip each other's rows rather than fire a threshold twice.
        if self._connection.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return [_check_of(row) for row in self._connection.execute(query)]

    def save(self, check: AtRiskCheck) -> None:
        self._connection.execute(
            update(at_risk_checks)
            .where(
                at_risk_checks.c.ride_id == check.ride_id,
                at_risk_checks.c.round == check.round,
                at_risk_checks.c.threshold == check.threshold,
            )
            .values(checked_at=check.checked_at, fired=check.fired)
        )

    def for_ride(self, ride_id: str) -> list[AtRiskCheck]:
        query = (
            select(at_risk_checks)
            .where(at_risk_checks.c.ride_id == ride_id)
            .order_by(at_risk_checks.c.round, at_risk_checks.c.due_at)
        )
        return [_check_of(row) for row in self._connection.execute(query)]


class SqlWebhookNoticeRepository:
    def __init__(self, connection: Connection):
        self._connection = connection

    def seen(self, notice_id: str) -> bool:
        return (
            self._connection.execute(select(webhook_notices.c.id).where(webhook_notices.c.id == notice_id)).first()
            is not None
        )

    def record(self, notice_id: str, *, type: str, ride_id: str | None, now: datetime) -> bool:
        """Record the notice; False when a concurrent copy of it was recorded first (the provider sent it twice)."""
        try:
            with self._connection.begin_nested():
                self._connection.execute(
                    insert(webhook_notices).values(id=notice_id, type=type, ride_id=ride_id, received_at=now)
                )
        except IntegrityError:
            return False
        return True


def _row_of(ride: Ride) -> dict:
    row = {name: getattr(ride, name) for name in RIDE_FIELDS}
    row["status"] = ride.status.value
    return row


def _ride_of(row) -> Ride:
    values = {name: getattr(row, name) for name in RIDE_FIELDS}
    values["status"] = RideStatus(row.status)
    return Ride(**values)


def _request_row(request: ProviderRequest) -> dict:
    return {
        "id": request.id,
        "ride_id": request.ride_id,
        "action": request.action.value,
        "round": request.round,
        "created_at": request.created_at,
        "next_attempt_at": request.next_attempt_at,
        "attempts": request.attempts,
        "done_at": request.done_at,
        "outcome": request.outcome,
        "last_error": request.last_error,
    }


def _request_of(row) -> ProviderRequest:
    return ProviderRequest(
        id=row.id,
        ride_id=row.ride_id,
        action=ProviderAction(row.action),
        round=row.round,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        attempts=row.attempts,
        done_at=row.done_at,
        outcome=row.outcome,
        last_error=row.last_error,
    )


def _check_row(check: AtRiskCheck) -> dict:
    return {
        "ride_id": check.ride_id,
        "round": check.round,
        "threshold": check.threshold,
        "due_at": check.due_at,
        "checked_at": check.checked_at,
        "fired": check.fired,
    }


def _check_of(row) -> AtRiskCheck:
    return AtRiskCheck(row.ride_id, row.round, row.threshold, row.due_at, row.checked_at, bool(row.fired))
