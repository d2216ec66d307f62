"""The ops page's settings and its parts put together: the queue inspector (management API or the broker itself),
the depth history worker, the dead letters, the services' probes, and the alerts as Prometheus gauges.

Settings (environment):
- RABBITMQ_MANAGEMENT_URL (unset: figures from AMQP passive declarations), RABBITMQ_MANAGEMENT_USER and
  RABBITMQ_MANAGEMENT_PASSWORD (default guest/guest);
- TRANSPORT_URL and NOTIFICATIONS_URL, whose /readyz is probed (defaults http://127.0.0.1:8002 and :8003);
- OPS_QUEUE_DEPTH_ALERT (default 100 messages ready), OPS_OUTBOX_AGE_ALERT_SECONDS (default 300);
- OPS_SAMPLE_SECONDS (default 5) and OPS_HISTORY_MINUTES (default 15) for the depth charts.
"""

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from prometheus_client.core import GaugeMetricFamily

from shared.messaging.dead_letters import DeadLetters
from shared.messaging.inspection import queue_inspector
from shared.messaging.topology import Topology
from shared.web.health import Readiness

from .adapters.queue_history import QueueHistory
from .adapters.service_probes import ServiceProbes, service_urls
from .domain.clinic import Clinic
from .domain.ops import AlertKind, Thresholds
from .ops_handlers import Ops


@dataclass(frozen=True)
class OpsSettings:
    management_url: str | None = None
    management_user: str = "guest"
    management_password: str = field(default="guest", repr=False)
    thresholds: Thresholds = field(default_factory=Thresholds)
    sample_seconds: float = 5.0
    history_minutes: int = 15
    service_urls: Mapping[str, str] = field(default_factory=lambda: service_urls({}))

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> "OpsSettings":
        env = os.environ if environ is None else environ
        try:
            sample_seconds = float(env.get("OPS_SAMPLE_SECONDS") or 5)
            history_minutes = int(env.get("OPS_HISTORY_MINUTES") or 15)
        except ValueError as exc:
            raise ValueError(f"OPS_SAMPLE_SECONDS / OPS_HISTORY_MINUTES: {exc}") from None
        if sample_seconds <= 0 or history_minutes < 1:
            raise ValueError("OPS_SAMPLE_SECONDS must be positive and OPS_HISTORY_MINUTES at least 1")
        return cls(
            management_url=(env.get("RABBITMQ_MANAGEMENT_URL") or "").strip() or None,
            management_user=env.get("RABBITMQ_MANAGEMENT_USER") or "guest",
            management_password=env.get("RABBITMQ_MANAGEMENT_PASSWORD") or "guest",
            thresholds=Thresholds.from_mapping(env),
            sample_seconds=sample_seconds,
            history_minutes=history_minutes,
            service_urls=service_urls(env),
        )


def readiness_answer(probe: Callable[[], Readiness]) -> Callable[[], tuple[int, object]]:
    """The scheduler's own /readyz answer (its status code and JSON), asked of its readiness probe in-process."""

    def answer() -> tuple[int, object]:
        readiness = probe()
        return (200 if readiness.ready else 503), readiness.to_dict()

    return answer


def build_ops(
    settings: OpsSettings,
    *,
    broker_url: str,
    topology: Topology,
    uow_factory: Callable,
    clinic: Clinic,
    clock: Callable[[], datetime],
    local_readiness: Callable[[], tuple[int, object]],
) -> tuple[Ops, QueueHistory]:
    """The ops use cases and the worker sampling the queues (to run beside the service's other workers)."""
    inspector = queue_inspector(
        broker_url,
        topology,
        management_url=settings.management_url,
        management_user=settings.management_user,
        management_password=settings.management_password,
    )
    # The charts' times are the wall clock's, not the clinic's clock (which a test may hold still).
    history = QueueHistory(
        inspector, interval=settings.sample_seconds, keep=timedelta(minutes=settings.history_minutes)
    )
    ops = Ops(
        history=history,
        dead_letters=DeadLetters(broker_url, topology),
        probes=ServiceProbes(settings.service_urls, local=local_readiness),
        uow_factory=uow_factory,
        clinic=clinic,
        clock=clock,
        thresholds=settings.thresholds,
    )
    return ops, history


class AlertsCollector:
    """The alerts as Prometheus gauges, computed when scraped: ``clinic_ops_alert{kind, subject, severity} 1`` for
    each alert standing, and ``clinic_ops_alerts{kind}`` counting them (0 for a kind with none, so a rule that
    stops firing is seen to stop)."""

    def __init__(self, ops: Ops):
        self._ops = ops

    def collect(self) -> Iterator[GaugeMetricFamily]:
        standing = self._ops.snapshot().alerts
        each = GaugeMetricFamily(
            "clinic_ops_alert", "An ops alert standing now (1).", labels=["kind", "subject", "severity"]
        )
        for alert in standing:
            each.add_metric([alert.kind.value, alert.subject, alert.severity.value], 1)
        counts = GaugeMetricFamily("clinic_ops_alerts", "How many ops alerts of each kind stand now.", labels=["kind"])
        for kind in AlertKind:
            counts.add_metric([kind.value], sum(1 for alert in standing if alert.kind is kind))
        yield each
        yield counts

    def describe(self) -> list:
        return []  # computed on each scrape: nothing to describe (and nothing collected) at registration
