"""The broker topology, declared once as data: who receives which events, and where failures go."""

from dataclasses import dataclass, field

from shared.contract import (
    CATALOGUE,
    RIDE_AT_RISK,
    RIDE_CANCELLED,
    RIDE_COMPLETED,
    RIDE_CONFIRMED,
    RIDE_DECLINED,
    RIDE_DISPATCHED,
    RIDE_REQUESTED,
    RIDE_RESCHEDULED,
    SESSION_BOOKED,
    SESSION_CANCELLED,
    SESSION_DISCHARGED,
    SESSION_NO_SHOW,
    SESSION_RESCHEDULED,
    EventType,
)

EVENTS_EXCHANGE = "clinic.events"
DEAD_LETTER_EXCHANGE = "clinic.dlx"


@dataclass(frozen=True)
class QueueSpec:
    name: str
    binds: tuple[EventType, ...]
    dead_letters: bool = True
    max_length: int | None = None

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.name}.dlq"

    @property
    def retry_queue(self) -> str:
        """Where an event that failed for a passing reason waits out its delay before it comes back to this queue.

        Nobody consumes it: each message carries its own delay as a TTL, and on expiry the broker dead-letters it
        straight back to this queue (through the default exchange, so no other queue gets it a second time).
        """
        return f"{self.name}.retry"

    @property
    def routing_keys(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.binds)


@dataclass(frozen=True)
class Topology:
    exchange: str = EVENTS_EXCHANGE
    dead_letter_exchange: str = DEAD_LETTER_EXCHANGE
    queues: tuple[QueueSpec, ...] = field(default_factory=tuple)

    def queue(self, name: str) -> QueueSpec:
        for spec in self.queues:
            if spec.name == name:
                return spec
        raise KeyError(f"no queue {name!r} in the topology")


TRANSPORT_QUEUE = QueueSpec(
    "transport.events",
    binds=(SESSION_BOOKED, SESSION_RESCHEDULED, SESSION_CANCELLED, SESSION_NO_SHOW, SESSION_DISCHARGED),
)
NOTIFICATIONS_QUEUE = QueueSpec(
    "notifications.events",
    binds=(
        SESSION_BOOKED,
        SESSION_RESCHEDULED,
        SESSION_CANCELLED,
        SESSION_NO_SHOW,
        SESSION_DISCHARGED,
        RIDE_REQUESTED,
        RIDE_RESCHEDULED,
        RIDE_CONFIRMED,
        RIDE_AT_RISK,
        RIDE_DISPATCHED,
    ),
)
# The scheduler keeps each session's ride status from these, for the check-in gate and the front desk.
SCHEDULER_QUEUE = QueueSpec(
    "scheduler.events",
    binds=(
        RIDE_REQUESTED,
        RIDE_CONFIRMED,
        RIDE_DECLINED,
        RIDE_AT_RISK,
        RIDE_RESCHEDULED,
        RIDE_DISPATCHED,
        RIDE_COMPLETED,
        RIDE_CANCELLED,
    ),
)
# Every event of the contract is also kept, most recent first-out, for ops to read.
# It makes each contract event routable, so `mandatory` still catches a type that is not in the contract.
AUDIT_QUEUE = QueueSpec("audit.events", binds=tuple(CATALOGUE.values()), dead_letters=False, max_length=100_000)

CLINIC_TOPOLOGY = Topology(queues=(SCHEDULER_QUEUE, TRANSPORT_QUEUE, NOTIFICATIONS_QUEUE, AUDIT_QUEUE))
