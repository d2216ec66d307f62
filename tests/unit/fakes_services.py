"""Hand-written fakes of the services' repositories and ports, kept in memory, for the unit tier.

They go into ``fakes.FakeUnitOfWork(...)`` as keyword arguments (``rides=``, ``messages=``) or stand in for the
notifications service's directory and gateways. The scheduler's use cases are tested on a real SQLite database.
"""

from dataclasses import replace

from services.notifications.domain.contacts import ClinicFacts, Contact, ContactUnavailable, Escort, EscortUnavailable
from services.notifications.domain.delivery import DeliveryFailed
from services.notifications.domain.messages import Message
from services.notifications.domain.rides import EscortLink
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
        if self.find(message.session_id, message.kind, message.dedupe_key) is not None:
            raise ValueError("a message of this kind and key is already stored for the session")  # the unique key
        self.by_id[message.id] = replace(message)

    def upsert(self, message: Message) -> None:
        self.by_id[message.id] = replace(message)

    def find(self, session_id: str, kind: str, dedupe_key: str = "") -> Message | None:
        for message in self.by_id.values():
            if (message.session_id, message.kind, message.dedupe_key) == (session_id, kind, dedupe_key):
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
    """The scheduler's directory: the contacts and sessions' escorts it knows, and the clinic's facts."""

    def __init__(
        self,
        clinic: ClinicFacts,
        *contacts: Contact,
        escorts: tuple[Escort, ...] = (),
        unknown_reason: str = "the scheduler has no such patient",
        unavailable: Exception | None = None,
    ):
        self._clinic = clinic
        self._contacts = {c.patient_id: c for c in contacts}
        self._escorts = {e.session_id: e for e in escorts}
        self._unknown_reason = unknown_reason
        self.unavailable = unavailable  # raised for every contact and escort while set: the scheduler is down
        self.looked_up: list[str] = []
        self.sessions_looked_up: list[str] = []

    def escort(self, session_id: str) -> Escort:
        self.sessions_looked_up.append(session_id)
        if self.unavailable is not None:
            raise self.unavailable
        try:
            return self._escorts[session_id]
        except KeyError:
            raise EscortUnavailable("the session names no escort") from None

    def contact(self, patient_id: str) -> Contact:
        self.looked_up.append(patient_id)
        if self.unavailable is not None:
            raise self.unavailable
        try:
            return self._contacts[patient_id]
        except KeyError:
            raise ContactUnavailable(self._unknown_reason) from None

    def clinic(self) -> ClinicFacts:
        return self._clinic


class FakeEscortLinks:
    """Transport's escort links: a link per ride, or what transport answers instead (409, 404, down)."""

    def __init__(self, *, answers: dict[str, Exception] | None = None, base: str = "http://transport.test/escort"):
        self._answers = dict(answers or {})
        self._base = base
        self.asked: list[str] = []

    def answer(self, ride_id: str, failure: Exception | None) -> None:
        if failure is None:
            self._answers.pop(ride_id, None)
        else:
            self._answers[ride_id] = failure

    def url_for(self, ride_id: str) -> str:
        return f"{self._base}/tok-{ride_id}-secret"

    def escort_link(self, ride_id: str) -> EscortLink:
        self.asked.append(ride_id)
        if ride_id in self._answers:
            raise self._answers[ride_id]
        return EscortLink(url=self.url_for(ride_id), expires_at=None)


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
