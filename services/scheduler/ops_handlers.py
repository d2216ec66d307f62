"""The ops use cases: the snapshot of the queues, the services and the day, with its alerts; and the dead letters
listed, replayed and discarded, each replay and discard recorded in the audit trail.

The pages, the JSON API, the metrics and the command line all go through here.
"""

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Protocol

from shared.redaction import describe

from .domain.audit import AuditAction
from .domain.clinic import Clinic
from .domain.ops import (
    Alert,
    BusinessView,
    RideAtRisk,
    ServiceState,
    Thresholds,
    alerts,
)
from .domain.rides import RideStatus
from .domain.sessions import SessionStatus
from .domain.staff import Actor

log = logging.getLogger(__name__)

CLI_ACTOR = Actor(id=None, name="cli")
# Rides at risk are looked for among the sessions of today and the next days: a ride for tomorrow morning at risk
# tonight matters as much as one this afternoon.
AT_RISK_DAYS = 2
NOT_COMING = frozenset({SessionStatus.CANCELLED, SessionStatus.NO_SHOW})
GONE = NOT_COMING | {SessionStatus.DISCHARGED}  # no ride home to wait for any more
MAX_IDS_IN_DETAIL = 120


class DeadLettersPort(Protocol):
    """shared.messaging.dead_letters.DeadLetters."""

    def queues(self) -> tuple[str, ...]: ...
    def list(self, queue: str, *, limit: int = 500) -> list: ...
    def replay(self, queue: str, event_ids: Collection[str] | None) -> Any: ...
    def discard(self, queue: str, event_ids: Collection[str] | None, reason: str) -> Any: ...


class ProbesPort(Protocol):
    def states(self) -> list[ServiceState]: ...


class HistoryPort(Protocol):
    def current(self) -> Any: ...
    def refresh(self) -> Any: ...
    def depths(self, queue: str) -> list[tuple[datetime, int | None]]: ...
    @property
    def keep(self) -> timedelta: ...


@dataclass(frozen=True)
class QueueRow:
    """A queue's figures (shared.messaging.inspection.QueueFigures) and its depth at each sample kept."""

    figures: Any
    depths: tuple[tuple[datetime, int | None], ...]


@dataclass(frozen=True)
class OpsSnapshot:
    taken_at: datetime
    broker: Any  # shared.messaging.inspection.BrokerSnapshot
    queues: tuple[QueueRow, ...]
    services: tuple[ServiceState, ...]
    business: BusinessView | None
    business_error: str | None
    alerts: tuple[Alert, ...]
    thresholds: Thresholds


class Ops:
    def __init__(
        self,
        *,
        history: HistoryPort,
        dead_letters: DeadLettersPort,
        probes: ProbesPort,
        uow_factory: Callable,
        clinic: Clinic,
        clock: Callable[[], datetime],
        thresholds: Thresholds,
    ):
        self.history = history
        self.dead_letters_port = dead_letters
        self.probes = probes
        self._uow_factory = uow_factory
        self._clinic = clinic
        self._clock = clock
        self.thresholds = thresholds

    def queues(self) -> tuple[Any, tuple[QueueRow, ...]]:
        """The broker's snapshot (from the latest sample) and each queue with its depth history."""
        snapshot = self.history.current()
        rows = tuple(QueueRow(q, tuple(self.history.depths(q.name))) for q in snapshot.queues)
        return snapshot, rows

    def services(self) -> list[ServiceState]:
        return self.probes.states()

    def business(self) -> BusinessView:
        return business_view(uow=self._uow_factory(), clinic=self._clinic, now=self._clock(), services=())

    def snapshot(self) -> OpsSnapshot:
        """Everything the page shows, with the alerts computed from it."""
        broker, rows = self.queues()
        services = tuple(self.services())
        business: BusinessView | None
        try:
            business = business_view(uow=self._uow_factory(), clinic=self._clinic, now=self._clock(), services=services)
            business_error = None
        except Exception as exc:  # the database away: the queues and the services are still worth showing
            log.warning("the business view failed: %s", describe(exc))
            business, business_error = None, "the scheduler's database did not answer"
        found = alerts(
            broker_reachable=broker.reachable,
            broker_error=broker.error,
            queues=broker.queues,
            services=services,
            business=business,
            thresholds=self.thresholds,
        )
        return OpsSnapshot(
            taken_at=self._clock(),
            broker=broker,
            queues=rows,
            services=services,
            business=business,
            business_error=business_error,
            alerts=tuple(found),
            thresholds=self.thresholds,
        )

    def dead_letter_queues(self) -> tuple[str, ...]:
        return self.dead_letters_port.queues()

    def dead_letters(self, queue: str, *, limit: int = 500) -> list:
        return self.dead_letters_port.list(queue, limit=limit)

    def replay(self, queue: str, event_ids: Collection[str] | None, *, actor: Actor) -> Any:
        outcome = replay_dead_letters(
            queue,
            event_ids,
            dead_letters=self.dead_letters_port,
            uow=self._uow_factory(),
            actor=actor,
            now=self._clock(),
        )
        self._refresh()
        return outcome

    def discard(self, queue: str, event_ids: Collection[str] | None, reason: str, *, actor: Actor) -> Any:
        outcome = discard_dead_letters(
            queue,
            event_ids,
            reason,
            dead_letters=self.dead_letters_port,
            uow=self._uow_factory(),
            actor=actor,
            now=self._clock(),
        )
        self._refresh()
        return outcome

    def _refresh(self) -> None:
        try:
            self.history.refresh()
        except Exception as exc:
            log.warning("the queues were not sampled again after a dead-letter action: %s", describe(exc))


def business_view(*, uow, clinic: Clinic, now: datetime, services: Sequence[ServiceState]) -> BusinessView:
    """Today's sessions without a confirmed ride home, the rides at risk, and the messages notifications failed."""
    zone = clinic.time_zone
    today = now.astimezone(zone).date()
    start = datetime.combine(today, time(0), tzinfo=zone)
    with uow.read_only():
        sessions = uow.sessions.between(
            start, datetime.combine(today + timedelta(days=AT_RISK_DAYS), time(0), tzinfo=zone)
        )
    todays = [s for s in sessions if s.starts_at.astimezone(zone).date() == today and s.status not in NOT_COMING]
    without_ride = [s for s in todays if s.status not in GONE and s.needs_ride_home(clinic) and not s.ride_confirmed]
    at_risk = tuple(
        RideAtRisk(s.id, s.starts_at.astimezone(zone))
        for s in sessions
        if s.status not in GONE and s.ride_status is RideStatus.AT_RISK
    )
    failed = [
        service.figures.get("messages_failed")
        for service in services
        if service.name == "notifications" and service.reachable
    ]
    messages_failed = failed[0] if failed and isinstance(failed[0], int) else None
    return BusinessView(
        day=today,
        sessions_today=len(todays),
        without_confirmed_ride=len(without_ride),
        rides_at_risk=at_risk,
        messages_failed=messages_failed,
    )


def replay_dead_letters(
    queue: str, event_ids: Collection[str] | None, *, dead_letters: DeadLettersPort, uow, actor: Actor, now: datetime
) -> Any:
    """Send the dead letters (all of them with ``event_ids`` None) back to the queue they came from, then record each
    one replayed in the audit trail."""
    try:
        outcome = dead_letters.replay(queue, _ids(event_ids))
    except Exception as exc:
        _audit_what_was_done(exc, uow, actor, AuditAction.DEAD_LETTER_REPLAYED, now, f"from {queue}")
        raise
    _audit(uow, actor, AuditAction.DEAD_LETTER_REPLAYED, outcome.done, now, f"from {queue}")
    log.info("%d dead letters replayed from %s by %s", len(outcome.done), queue, actor.name)
    return outcome


def discard_dead_letters(
    queue: str,
    event_ids: Collection[str] | None,
    reason: str,
    *,
    dead_letters: DeadLettersPort,
    uow,
    actor: Actor,
    now: datetime,
) -> Any:
    """Throw the dead letters away for good, with the reason kept in the audit trail beside each one."""
    try:
        outcome = dead_letters.discard(queue, _ids(event_ids), reason)
    except Exception as exc:
        _audit_what_was_done(exc, uow, actor, AuditAction.DEAD_LETTER_DISCARDED, now, f"from {queue}: {reason}")
        raise
    _audit(uow, actor, AuditAction.DEAD_LETTER_DISCARDED, outcome.done, now, f"from {queue}: {reason}")
    log.info("%d dead letters discarded from %s by %s", len(outcome.done), queue, actor.name)
    return outcome


def _ids(event_ids: Collection[str] | None) -> list[str] | None:
    return None if event_ids is None else list(dict.fromkeys(event_ids))


def _audit_what_was_done(exc: Exception, uow, actor: Actor, action: AuditAction, now: datetime, detail: str) -> None:
    """The broker went away in the middle (BrokerUnavailable): what it confirmed before is done, and audited."""
    partial = getattr(exc, "outcome", None)
    if partial is not None and partial.done:
        _audit(uow, actor, action, partial.done, now, detail + " (stopped: the broker went away)")


def _audit(uow, actor: Actor, action: AuditAction, event_ids: Sequence[str], now: datetime, detail: str) -> None:
    if not event_ids:
        return
    try:
        with uow:
            for event_id in event_ids:
                uow.audit.record(actor, action, event_id, now, detail)
            uow.commit()
    except Exception as exc:
        # The broker has done it already and cannot take it back: say so where someone will look.
        shown = ", ".join(event_ids)[:MAX_IDS_IN_DETAIL]
        log.error("%s of %s by %s was not audited: %s", action.value, shown, actor.name, describe(exc))
        raise
