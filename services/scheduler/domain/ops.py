"""What the people who keep the system running see at a glance, and every alert rule, in one place.

The rules read plain figures (a queue's depth and consumers, a service's readiness and outbox, the day's rides) and
say what needs a person: a queue nobody consumes, a dead letter waiting, a queue growing past a threshold, an outbox
row left unsent too long, a ride home at risk, a service not ready, the broker out of reach. The page, the JSON and
the metrics all show these same alerts.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

WORK = "work"
DEAD_LETTERS = "dead_letters"
RETRY = "retry"


class QueueFiguresLike(Protocol):
    """A queue's figures as the broker inspection gives them (shared.messaging.inspection.QueueFigures)."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def of_queue(self) -> str: ...
    @property
    def ready(self) -> int | None: ...
    @property
    def consumers(self) -> int | None: ...
    @property
    def exists(self) -> bool: ...


@dataclass(frozen=True)
class Thresholds:
    """When a figure becomes an alert. ``unconsumed_queues`` are kept for reading, never consumed (the audit copy of
    every event), so neither their missing consumer nor their depth is news."""

    queue_depth: int = 100
    outbox_age_seconds: float = 300.0
    unconsumed_queues: frozenset[str] = frozenset({"audit.events"})

    def __post_init__(self):
        if self.queue_depth < 1:
            raise ValueError("the queue depth threshold must be at least 1")
        if self.outbox_age_seconds <= 0:
            raise ValueError("the outbox age threshold must be positive")

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> "Thresholds":
        """From settings such as the environment: OPS_QUEUE_DEPTH_ALERT, OPS_OUTBOX_AGE_ALERT_SECONDS."""
        defaults = cls()
        depth = values.get("OPS_QUEUE_DEPTH_ALERT") or ""
        age = values.get("OPS_OUTBOX_AGE_ALERT_SECONDS") or ""
        try:
            return cls(
                queue_depth=int(depth) if depth.strip() else defaults.queue_depth,
                outbox_age_seconds=float(age) if age.strip() else defaults.outbox_age_seconds,
            )
        except ValueError as exc:
            raise ValueError(f"ops alert thresholds: {exc}") from None


@dataclass(frozen=True)
class LastHandled:
    type: str | None
    event_id: str | None
    at: str | None


@dataclass(frozen=True)
class ServiceState:
    """A service as its readiness probe described it; ``reachable`` False when it did not answer at all."""

    name: str
    url: str | None
    reachable: bool
    ready: bool
    problems: tuple[str, ...] = ()  # the failing checks, "broker: unreachable"
    consumer_status: str | None = None
    last_handled: LastHandled | None = None
    outbox_pending: int | None = None
    oldest_unsent_age_seconds: float | None = None
    figures: Mapping[str, object] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class RideAtRisk:
    session_id: str
    starts_at: datetime


@dataclass(frozen=True)
class BusinessView:
    """The day in the clinic's terms: how many sessions still lack a confirmed ride home, the rides at risk, and the
    messages notifications failed to send (None when it did not say)."""

    day: date
    sessions_today: int
    without_confirmed_ride: int
    rides_at_risk: tuple[RideAtRisk, ...]
    messages_failed: int | None


class AlertKind(StrEnum):
    BROKER_UNREACHABLE = "broker_unreachable"
    NO_CONSUMER = "no_consumer"
    DEAD_LETTERS = "dead_letters"
    QUEUE_DEPTH = "queue_depth"
    OUTBOX_AGE = "outbox_age"
    SERVICE_NOT_READY = "service_not_ready"
    RIDE_AT_RISK = "ride_at_risk"


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    subject: str  # a queue, a service, a session id, or "broker"
    severity: Severity
    message: str


def queue_alerts(queues: Iterable[QueueFiguresLike], thresholds: Thresholds) -> list[Alert]:
    """A work queue without a consumer; a dead-letter queue holding anything; a work queue deeper than the threshold.
    A figure the source cannot tell (None) raises nothing: no alert is better than a wrong one."""
    alerts = []
    for queue in queues:
        if queue.kind == WORK and queue.name not in thresholds.unconsumed_queues:
            if not queue.exists:
                alerts.append(
                    Alert(AlertKind.NO_CONSUMER, queue.name, Severity.CRITICAL, f"{queue.name} does not exist.")
                )
                continue
            if queue.consumers == 0:
                message = f"Nobody consumes {queue.name}: its service is down or disconnected."
                alerts.append(Alert(AlertKind.NO_CONSUMER, queue.name, Severity.CRITICAL, message))
            if queue.ready is not None and queue.ready > thresholds.queue_depth:
                message = f"{queue.name} holds {queue.ready} messages (more than {thresholds.queue_depth})."
                alerts.append(Alert(AlertKind.QUEUE_DEPTH, queue.name, Severity.WARNING, message))
        elif queue.kind == DEAD_LETTERS and queue.ready:
            count = _plural(queue.ready, "dead letter")
            message = f"{count} in {queue.name}: look at them, then replay or discard."
            alerts.append(Alert(AlertKind.DEAD_LETTERS, queue.name, Severity.CRITICAL, message))
    return alerts


def service_alerts(services: Iterable[ServiceState], thresholds: Thresholds) -> list[Alert]:
    """A service not ready (or not answering); an outbox whose oldest unsent row is older than the threshold."""
    alerts = []
    for service in services:
        if not service.reachable:
            message = f"{service.name} does not answer its readiness probe ({service.error or 'no answer'})."
            alerts.append(Alert(AlertKind.SERVICE_NOT_READY, service.name, Severity.CRITICAL, message))
        elif not service.ready:
            why = "; ".join(service.problems) or "it says it is not ready"
            message = f"{service.name} is not ready: {why}."
            alerts.append(Alert(AlertKind.SERVICE_NOT_READY, service.name, Severity.CRITICAL, message))
        age = service.oldest_unsent_age_seconds
        if age is not None and age > thresholds.outbox_age_seconds:
            message = (
                f"{service.name}'s oldest unsent outbox row is {_duration(age)} old "
                f"(more than {_duration(thresholds.outbox_age_seconds)})."
            )
            alerts.append(Alert(AlertKind.OUTBOX_AGE, service.name, Severity.WARNING, message))
    return alerts


def ride_alerts(business: BusinessView | None) -> list[Alert]:
    """Each ride home at risk: its driver is not confirmed as pickup nears (``starts_at`` on the clinic's clock)."""
    if business is None:
        return []
    return [
        Alert(
            AlertKind.RIDE_AT_RISK,
            ride.session_id,
            Severity.WARNING,
            f"The ride home of the session at {ride.starts_at:%a %d %b %H:%M} is at risk.",
        )
        for ride in business.rides_at_risk
    ]


def alerts(
    *,
    broker_reachable: bool,
    broker_error: str | None,
    queues: Sequence[QueueFiguresLike],
    services: Sequence[ServiceState],
    business: BusinessView | None,
    thresholds: Thresholds,
) -> list[Alert]:
    """Every alert, the critical ones first. With the broker out of reach its queues say nothing: one alert says so."""
    found = []
    if not broker_reachable:
        message = f"The broker cannot be reached ({broker_error or 'no answer'}); queue figures are unknown."
        found.append(Alert(AlertKind.BROKER_UNREACHABLE, "broker", Severity.CRITICAL, message))
    else:
        found.extend(queue_alerts(queues, thresholds))
    found.extend(service_alerts(services, thresholds))
    found.extend(ride_alerts(business))
    order = {Severity.CRITICAL: 0, Severity.WARNING: 1}
    return sorted(found, key=lambda alert: order[alert.severity])


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
