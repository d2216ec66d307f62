"""Hand-written fakes of the services' repositories and ports, kept in memory, for the unit tier.

They go into ``fakes.FakeUnitOfWork(...)`` as keyword arguments (``rides=``, ``messages=``) or stand in for the
notifications service's directory and gateways. The scheduler's use cases are tested on a real SQLite database.
"""
from dataclasses import replace
from datetime import datetime

from services.notifications.domain.contacts import ClinicFacts, Contact, ContactUnavailable
from services.notifications.domain.delivery import DeliveryFailed
from services.notifications.domain.messages import Message
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


# --- notifications -----------------------------------------------------------------------------------------------


class FakeMessageRepository:
    def __init__(self, *messages: Message):
        self.by_id: dict[str, Message] = {m.id: replace(m) for m in messages}

    def add(self, message: Message) -> None:
        if message.id in self.by_id:
            raise ValueError(f"message {message.id} already stored")
        self.by_id[message.id] = replace(message)

    def upsert(self, message: Message) -> None:
        self.by_id[message.id] = replace(message)

    def find(self, session_id: str, kind: str) -> Message | None:
        for message in self.by_id.values():
            if message.session_id == session_id and message.kind == kind:
                return replace(message)
        return None

    def for_session(self, session_id: str) -> list[Message]:
        return [replace(m) for m in self.by_id.values() if m.session_id == session_id]

    def latest(self, limit: int = 100) -> list[Message]:
        return sorted((replace(m) for m in self.by_id.values()), key=lambda m: m.created_at, reverse=True)[:limit]

    @property
    def all(self) -> list[Message]:
        return list(self.by_id.values())


class FakeDirectory:
    """The scheduler's directory: the contacts it knows, and the clinic's facts."""

    def __init__(self, clinic: ClinicFacts, *contacts: Contact, unknown_reason: str = "the scheduler has no such patient"):
        self._clinic = clinic
        self._contacts = {c.patient_id: c for c in contacts}
        self._unknown_reason = unknown_reason
        self.looked_up: list[str] = []

    def contact(self, patient_id: str) -> Contact:
        self.looked_up.append(patient_id)
        try:
            return self._contacts[patient_id]
        except KeyError:
            raise ContactUnavailable(self._unknown_reason) from None

    def clinic(self) -> ClinicFacts:
        return self._clinic


class RecordingGateway:
    """Takes every message and remembers what it was given."""

    def __init__(self):
        self.deliveries: list[tuple[Message, str]] = []

    def deliver(self, message: Message, address: str) -> None:
        self.deliveries.append((replace(message), address))

    @property
    def message_ids(self) -> list[str]:
        return [message.id for message, _ in self.deliveries]


class FailingGateway:
    """Refuses every message (``failures`` times, then takes them), counting the tries."""

    def __init__(self, *, failures: int | None = None, reason: str = "gateway answered 503"):
        self._failures = failures
        self._reason = reason
        self.attempts = 0
        self.deliveries: list[tuple[Message, str]] = []

    def deliver(self, message: Message, address: str) -> None:
        self.attempts += 1
        if self._failures is None or self.attempts <= self._failures:
            raise DeliveryFailed(self._reason) if self._reason is not None else DeliveryFailed()
        self.deliveries.append((replace(message), address))


class ProcessCrashed(BaseException):
    """Stands for the process dying (killed, out of memory): nothing after it runs, no retry catches it."""


class CrashingGateway:
    """Hands the message over, then the process dies before the service records that it was sent."""

    def __init__(self):
        self.deliveries: list[tuple[Message, str]] = []

    def deliver(self, message: Message, address: str) -> None:
        self.deliveries.append((replace(message), address))
        raise ProcessCrashed("killed after handing the message to the gateway")
