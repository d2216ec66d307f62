"""Hand-written fakes of transport's repositories and outside world, kept in memory, for the unit tier."""

import itertools
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from fakes import FakeUnitOfWork

from services.transport.adapters.ride_provider import ProviderRefused, ProviderUnavailable
from services.transport.adapters.scheduler_directory import ClinicFacts, SchedulerUnavailable
from services.transport.domain.at_risk import AtRiskCheck
from services.transport.domain.provider import ProviderBooking, ProviderRide
from services.transport.domain.provider_requests import ProviderRequest
from services.transport.domain.rides import Ride


class FakeRideRepository:
    def __init__(self):
        self.by_id: dict[str, Ride] = {}

    def add(self, ride: Ride) -> None:
        if ride.id in self.by_id:
            raise ValueError(f"ride {ride.id} already stored")
        self.by_id[ride.id] = replace(ride)

    def save(self, ride: Ride) -> None:
        self.by_id[ride.id] = replace(ride)

    def get(self, ride_id: str) -> Ride | None:
        ride = self.by_id.get(ride_id)
        return replace(ride) if ride else None

    get_for_update = get

    def for_session(self, session_id: str, *, for_update: bool = False) -> list[Ride]:
        return sorted(
            (replace(r) for r in self.by_id.values() if r.session_id == session_id), key=lambda r: r.requested_at
        )

    def picked_up_between(self, start: datetime, end: datetime) -> list[Ride]:
        return sorted(
            (replace(r) for r in self.by_id.values() if start <= r.pickup_at < end), key=lambda r: r.pickup_at
        )

    @property
    def all(self) -> list[Ride]:
        return list(self.by_id.values())


class FakeTombstones:
    def __init__(self):
        self.sessions: dict[str, str] = {}

    def exists(self, session_id: str) -> bool:
        return session_id in self.sessions

    def add(self, session_id: str, *, event_type: str, now: datetime) -> None:
        self.sessions.setdefault(session_id, event_type)


class FakeProviderRequests:
    def __init__(self):
        self.by_id: dict[int, ProviderRequest] = {}
        self.claimed: dict[int, datetime] = {}
        self._ids = itertools.count(1)

    def add(self, request: ProviderRequest) -> None:
        stored = replace(request, id=next(self._ids))
        self.by_id[stored.id] = stored

    def save(self, request: ProviderRequest) -> None:
        self.by_id[request.id] = replace(request)
        self.claimed.pop(request.id, None)

    def pending(self, limit: int = 200) -> list[ProviderRequest]:
        return [replace(r) for _, r in sorted(self.by_id.items()) if r.done_at is None][:limit]

    def claim(self, request_id: int, *, now: datetime, until: datetime) -> bool:
        if self.by_id[request_id].done_at is not None or self.claimed.get(request_id, now) > now:
            return False
        self.claimed[request_id] = until
        return True

    def for_ride(self, ride_id: str) -> list[ProviderRequest]:
        return [replace(r) for _, r in sorted(self.by_id.items()) if r.ride_id == ride_id]

    @property
    def all(self) -> list[ProviderRequest]:
        return [replace(r) for _, r in sorted(self.by_id.items())]


class FakeAtRiskChecks:
    def __init__(self):
        self.checks: list[AtRiskCheck] = []

    def replace_for_ride(self, ride_id: str, checks: list[AtRiskCheck]) -> None:
        self.checks = [c for c in self.checks if c.ride_id != ride_id or c.checked_at is not None]
        self.checks += [replace(c) for c in checks]

    def due(self, now: datetime, limit: int = 200) -> list[AtRiskCheck]:
        due = [replace(c) for c in self.checks if c.checked_at is None and c.due_at <= now]
        return sorted(due, key=lambda c: c.due_at)[:limit]

    def save(self, check: AtRiskCheck) -> None:
        for index, stored in enumerate(self.checks):
            if (stored.ride_id, stored.round, stored.threshold) == (check.ride_id, check.round, check.threshold):
                self.checks[index] = replace(check)

    def for_ride(self, ride_id: str) -> list[AtRiskCheck]:
        return [replace(c) for c in self.checks if c.ride_id == ride_id]


class FakeWebhookNotices:
    def __init__(self):
        self.seen_ids: dict[str, str | None] = {}

    def seen(self, notice_id: str) -> bool:
        return notice_id in self.seen_ids

    def record(self, notice_id: str, *, type: str, ride_id: str | None, now: datetime) -> bool:
        if notice_id in self.seen_ids:
            return False
        self.seen_ids[notice_id] = ride_id
        return True


def transport_uow() -> FakeUnitOfWork:
    return FakeUnitOfWork(
        rides=FakeRideRepository(),
        tombstones=FakeTombstones(),
        provider_requests=FakeProviderRequests(),
        at_risk_checks=FakeAtRiskChecks(),
        webhook_notices=FakeWebhookNotices(),
    )


class FakeRideProvider:
    """A provider that keeps one ride per idempotency key, as the real one promises; ``down`` makes every call fail
    as an outage would, ``refuse`` makes the next calls of an operation be refused."""

    def __init__(self):
        self.rides: dict[str, ProviderRide] = {}
        self.by_key: dict[str, ProviderRide] = {}
        self.calls: list[tuple[str, str]] = []
        self.bookings: list[ProviderBooking] = []
        self.down = False
        self.refuse: set[str] = set()

    def _answer(self, operation: str, key: str, make) -> ProviderRide:
        self.calls.append((operation, key))
        if self.down:
            raise ProviderUnavailable(f"ride provider {operation}: answered 503 after 4 attempts")
        if operation in self.refuse:
            raise ProviderRefused("not_serviceable", 422)
        if key not in self.by_key:
            self.by_key[key] = make()
        return self.by_key[key]

    def book(self, booking: ProviderBooking, *, idempotency_key: str | None = None) -> ProviderRide:
        def make():
            self.bookings.append(booking)
            ride = ProviderRide(f"pr-{len(self.rides) + 1}", booking.ride_id, "will_call", booking.pickup_at)
            self.rides[ride.id] = ride
            return ride

        return self._answer("book", idempotency_key or f"book-{booking.ride_id}", make)

    def move(self, provider_ride_id: str, pickup_at: datetime, *, idempotency_key: str) -> ProviderRide:
        return self._answer("move", idempotency_key, lambda: replace(self.rides[provider_ride_id], pickup_at=pickup_at))

    def dispatch(self, provider_ride_id: str, *, idempotency_key: str) -> ProviderRide:
        return self._answer(
            "dispatch", idempotency_key, lambda: replace(self.rides[provider_ride_id], status="dispatched")
        )

    def cancel(self, provider_ride_id: str, *, idempotency_key: str) -> ProviderRide:
        return self._answer(
            "cancel", idempotency_key, lambda: replace(self.rides[provider_ride_id], status="cancelled")
        )


class FakeDirectory:
    """The scheduler as transport asks it: the clinic, a patient's name, a session's drop-off address."""

    def __init__(self, *, address: str | None = "1 Main Street, Springfield", available: bool = True):
        self.address = address
        self.available = available
        self.names = {"patient-1": "Ann Lee"}
        self.dropoffs: dict[str, str] = {}

    def clinic(self) -> ClinicFacts:
        if not self.available:
            raise SchedulerUnavailable("GET clinic: ConnectionError")
        return ClinicFacts("Riverside Ketamine Clinic", ZoneInfo("America/New_York"), self.address)

    def patient_first_name(self, patient_id: str) -> str | None:
        name = self.names.get(patient_id)
        return name.split()[0] if name else None

    def dropoff_address(self, session_id: str) -> str:
        if not self.available:
            raise SchedulerUnavailable("GET sessions: ConnectionError")
        return self.dropoffs.get(session_id, "22 Elm Road, Springfield")
