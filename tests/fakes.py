"""Hand-written fakes for unit tests: units of work that keep everything in memory."""

import copy
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime

from services.scheduler.domain.schedule import Occupancy
from services.scheduler.domain.sessions import HOLDING_STATUSES
from shared.contract import CATALOGUE, Event, new_event


class FakeOutbox:
    def __init__(self):
        self.events: list[Event] = []
        self.added: list[Event] = []

    def add(self, events) -> None:
        self.added.extend(events)


class FakeInbox:
    def __init__(self):
        self.processed: set[str] = set()
        self.pending: set[str] = set()

    def already_processed(self, event: Event) -> bool:
        return event.event_id in self.processed

    def record(self, event: Event) -> None:
        self.pending.add(event.event_id)


class FakeUnitOfWork:
    """Commits move what was added into what is kept; leaving without commit throws it away."""

    def __init__(self, **repositories):
        self.outbox = FakeOutbox()
        self.inbox = FakeInbox()
        self.committed = 0
        self.reading_only = False
        for name, repository in repositories.items():
            setattr(self, name, repository)

    def __call__(self):
        return self

    def read_only(self):
        self.reading_only = True
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.outbox.added.clear()
        self.inbox.pending.clear()
        self.reading_only = False

    def commit(self) -> None:
        assert not self.reading_only, "a unit of work opened to read only may not commit"
        self.outbox.events.extend(self.outbox.added)
        self.outbox.added.clear()
        self.inbox.processed |= self.inbox.pending
        self.inbox.pending.clear()
        self.committed += 1

    @property
    def published(self) -> list[Event]:
        return self.outbox.events


class FakeSessionRepository:
    """The scheduler's sessions in memory, keeping copies so that only ``save`` changes what is stored.

    ``get_for_update`` stands for the row lock: a concurrent change to the session is waited for there, so a test
    may hand it ``concurrent_change``, which lands on the stored session just before the locked read returns, as a
    winner that committed while this unit of work waited would. ``calls`` records the order in which locks were taken.
    """

    def __init__(self, *sessions, calls: list[str] | None = None):
        self._stored = {session.id: copy.deepcopy(session) for session in sessions}
        self.calls = [] if calls is None else calls
        self.concurrent_change: Callable | None = None

    def add(self, session) -> None:
        self._stored[session.id] = copy.deepcopy(session)

    def save(self, session) -> None:
        self._stored[session.id] = copy.deepcopy(session)

    def get(self, session_id: str):
        return copy.deepcopy(self._stored.get(session_id))

    def get_for_update(self, session_id: str):
        self.calls.append(f"lock session {session_id}")
        if self.concurrent_change is not None and session_id in self._stored:
            self.concurrent_change(self._stored[session_id])
            self.concurrent_change = None
        return self.get(session_id)

    def lock_days(self, days) -> None:
        self.calls.extend(f"lock day {day.isoformat()}" for day in sorted(set(days)))

    def occupancy_between(self, starts_at, ends_at) -> list:
        return [
            Occupancy(s.id, s.chair_id, s.clinician_id, s.starts_at, s.treatment_ends_at, s.chair_free_at)
            for s in self._stored.values()
            if s.status in HOLDING_STATUSES and s.starts_at < ends_at and s.chair_free_at > starts_at
        ]

    def blocks_of_patient(self, patient_id: str) -> list:
        return [s.block for s in self._stored.values() if s.patient_id == patient_id and s.status in HOLDING_STATUSES]


class FakePatientRepository:
    """Patients, each with an intake done, in memory; ``lock`` records itself in the shared ``calls``."""

    def __init__(self, *patient_ids: str, calls: list[str] | None = None):
        self._patient_ids = set(patient_ids)
        self.calls = [] if calls is None else calls
        self.intakes: list = []

    def get(self, patient_id: str):
        return patient_id if patient_id in self._patient_ids else None

    def lock(self, patient_id: str) -> None:
        self.calls.append(f"lock patient {patient_id}")

    def intake_completed(self, patient_id: str, *, by) -> bool:
        return patient_id in self._patient_ids

    def add_intake(self, intake) -> None:
        self.intakes.append(intake)


def ride_reported(
    session_id: str,
    event_type: str = "ride.confirmed",
    *,
    status: str | None = None,
    occurred_at: datetime | None = None,
    ride_id: str = "ride-1",
    mode: str = "escort",
    at_risk: str | None = None,
) -> Event:
    """A ``ride.*`` event as transport publishes it, for the scheduler's ride status; ``status`` defaults to the one
    the type names (``requested`` for ride.at_risk and ride.rescheduled)."""
    if status is None:
        status = (
            event_type.removeprefix("ride.") if event_type not in ("ride.at_risk", "ride.rescheduled") else "requested"
        )
    data = {
        "ride_id": ride_id,
        "session_id": session_id,
        "pickup_at": datetime(2027, 1, 5, 16, 30, tzinfo=UTC),
        "mode": mode,
        "status": status,
        "at_risk": at_risk,
    }
    event = new_event(CATALOGUE[event_type], data, correlation_id=session_id).stamped_by("transport")
    return event if occurred_at is None else dataclasses.replace(event, occurred_at=occurred_at)
