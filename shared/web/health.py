"""Readiness: may this service take traffic? Its database and broker answer, its consumer consumes, its relay drains.

``/healthz`` says the process lives; ``/readyz`` runs these checks and says which failed and why (a short reason,
never a URL, a credential or patient data). A check that does not answer within its timeout fails.
"""

import logging
import os
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Engine, text

from shared.messaging.probe import BrokerProbe
from shared.metrics import ServiceMetrics
from shared.redaction import describe
from shared.settings import positive_number

log = logging.getLogger(__name__)

DEFAULT_OUTBOX_STUCK_AFTER = 120.0
DATABASE_TIMEOUT = 3.0


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str | None = None

    def to_dict(self) -> dict:
        return {"ok": self.ok} if self.detail is None else {"ok": self.ok, "detail": self.detail}


@dataclass(frozen=True)
class Readiness:
    service: str
    checks: Mapping[str, Check]
    consumer: Mapping[str, Any] = field(default_factory=dict)
    outbox: Mapping[str, Any] = field(default_factory=dict)
    figures: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(check.ok for check in self.checks.values())

    def to_dict(self) -> dict:
        return {
            "service": self.service,
            "status": "ready" if self.ready else "not_ready",
            "checks": {name: check.to_dict() for name, check in self.checks.items()},
            "consumer": dict(self.consumer),
            "outbox": dict(self.outbox),
            "figures": dict(self.figures),
        }


class Consumer(Protocol):
    def status(self) -> dict: ...


class Relay(Protocol):
    def status(self) -> dict: ...

    def stuck(self, max_age: float) -> bool: ...


class DatabaseProbe:
    """``SELECT 1`` on the service's engine, given up after ``timeout`` (a hung connection attempt included)."""

    def __init__(self, engine: Engine, *, timeout: float = DATABASE_TIMEOUT):
        self._engine = engine
        self._timeout = timeout
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="database-probe")
        self._lock = threading.Lock()
        self._pending: Future | None = None

    def __call__(self) -> str | None:
        with self._lock:
            if self._pending is not None and not self._pending.done():
                return "no answer yet to the previous check"  # never pile up checks behind a hung one
            self._pending = future = self._executor.submit(self._select_one)
        try:
            future.result(timeout=self._timeout)
        except FutureTimeout:
            return f"no answer within {self._timeout:g}s"
        except Exception as exc:  # whatever the driver raises, the database does not answer
            log.warning("readiness: database check failed (%s)", describe(exc))
            return f"unreachable ({type(exc).__name__})"
        return None

    def _select_one(self) -> None:
        # Read-only: on SQLite a transaction that may write would wait for the write lock.
        with self._engine.connect().execution_options(read_only=True, postgresql_readonly=True) as connection:
            connection.execute(text("SELECT 1")).scalar_one()


class ReadinessProbe:
    """Runs every check and gathers what ops want to see beside them; call it for a ``Readiness``."""

    def __init__(
        self,
        service: str,
        *,
        database: Callable[[], str | None],
        broker: Callable[[], str | None],
        consumer: Consumer | None = None,
        relay: Relay | None = None,
        outbox_stuck_after: float = DEFAULT_OUTBOX_STUCK_AFTER,
        figures: Callable[[], Mapping[str, Any]] | None = None,
    ):
        self.service = service
        self._database = database
        self._broker = broker
        self._consumer = consumer
        self._relay = relay
        self.outbox_stuck_after = outbox_stuck_after
        self._figures = figures

    def __call__(self) -> Readiness:
        checks: dict[str, Check] = {
            "database": _check(self._database),
            "broker": _check(self._broker),
        }
        consumer: dict = {}
        if self._consumer is not None:
            consumer = self._consumer.status()
            checks["consumer"] = _consumer_check(consumer)
        outbox: dict = {}
        if self._relay is not None and checks["database"].ok:
            outbox, checks["outbox"] = self._outbox()
        elif self._relay is not None:
            checks["outbox"] = Check(False, "unknown while the database does not answer")
        figures: Mapping[str, Any] = {}
        if self._figures is not None and checks["database"].ok:
            try:
                figures = self._figures()
            except Exception as exc:  # figures are for people; they never make a service unready
                log.warning("readiness: figures unavailable (%s)", describe(exc))
        return Readiness(self.service, checks, consumer, outbox, figures)

    def _outbox(self) -> tuple[dict, Check]:
        assert self._relay is not None
        try:
            status = self._relay.status()
            stuck = self._relay.stuck(self.outbox_stuck_after)
        except Exception as exc:
            return {}, Check(False, f"status unavailable ({type(exc).__name__})")
        if stuck:
            age = status.get("oldest_unsent_age_seconds")
            waited = f"the oldest unsent event has waited {age:.0f}s" if age is not None else "no recent round"
            return status, Check(False, f"stuck: {waited} (threshold {self.outbox_stuck_after:g}s)")
        return status, Check(True)


def _check(probe: Callable[[], str | None]) -> Check:
    try:
        problem = probe()
    except Exception as exc:
        problem = f"check failed ({type(exc).__name__})"
    return Check(problem is None, problem)


def _consumer_check(status: Mapping[str, Any]) -> Check:
    if status.get("stuck"):
        return Check(False, f"stuck on one message for {status.get('stuck_for_seconds', '?')}s")
    if not status.get("consuming"):
        return Check(False, "not consuming (not connected to the broker, or not started)")
    return Check(True)


def outbox_stuck_after(environ: Mapping[str, str]) -> float:
    """OUTBOX_STUCK_AFTER_SECONDS: how old an unsent outbox row may get before the service is not ready."""
    return positive_number(environ, "OUTBOX_STUCK_AFTER_SECONDS", default=DEFAULT_OUTBOX_STUCK_AFTER, unit="seconds")


def service_readiness(
    service: str,
    *,
    engine: Engine,
    broker_url: str,
    consumer: Consumer,
    relay: Relay,
    metrics: ServiceMetrics | None = None,
    figures: Callable[[], Mapping[str, Any]] | None = None,
    environ: Mapping[str, str] | None = None,
) -> ReadinessProbe:
    """The readiness probe of a service of ours, and the same state offered to its metrics at scrape time."""
    stuck_after = outbox_stuck_after(os.environ if environ is None else environ)
    probe = ReadinessProbe(
        service,
        database=DatabaseProbe(engine),
        broker=BrokerProbe(broker_url),
        consumer=consumer,
        relay=relay,
        outbox_stuck_after=stuck_after,
        figures=figures,
    )
    if metrics is not None:
        metrics.watch(consumer=consumer.status, outbox=relay.status, outbox_stuck_after=stuck_after, figures=figures)
    return probe
