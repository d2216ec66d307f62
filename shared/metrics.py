"""Prometheus metrics of one service, in a registry of its own.

The embedded default runs three services in one process, so each has its own ``CollectorRegistry`` and nothing goes
to prometheus_client's global one. Counters and histograms are updated as things happen (the consumer through its
observer, the relay through its ``on_published`` hook, the Flask app per request); the gauges that describe a state
(outbox backlog, consumer connected, alert conditions, business figures) are read at scrape time from what the
service already knows, so they are never stale. Labels are event types, outcomes, routes and methods: never ids.
"""

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .redaction import describe

log = logging.getLogger(__name__)

OUTCOMES = ("handled", "retried", "dead_lettered")
HANDLER_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServiceMetrics:
    """What one service counts; satisfies ``shared.messaging.ConsumerObserver`` for its consumer."""

    def __init__(self, service: str):
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        self._published = Counter(
            "clinic_events_published",
            "Events the outbox relay published and the broker confirmed, by type.",
            ["event_type"],
            registry=self.registry,
        )
        self._consumed = Counter(
            "clinic_events_consumed",
            "Events taken from the service's queue, by type and outcome (handled, retried, dead_lettered).",
            ["event_type", "outcome"],
            registry=self.registry,
        )
        self._failed = Counter(
            "clinic_events_failed",
            "Handler attempts that raised, by event type (each attempt counts; see consumed for the outcome).",
            ["event_type"],
            registry=self.registry,
        )
        self._handler_seconds = Histogram(
            "clinic_event_handler_seconds",
            "Time from delivery to the outcome of one event, retries in the consumer included, by type.",
            ["event_type"],
            buckets=HANDLER_BUCKETS,
            registry=self.registry,
        )
        self._http_seconds = Histogram(
            "clinic_http_request_seconds",
            "HTTP request latency by route (the URL rule, not the path), method and status.",
            ["route", "method", "status"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )
        self._state = _StateCollector(service)
        self.registry.register(self._state)

    # --- as things happen ---------------------------------------------------------------------------------------

    def published(self, event_type: str) -> None:
        self._published.labels(event_type=event_type).inc()

    def consumed(self, event_type: str, outcome: str, seconds: float) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
        self._consumed.labels(event_type=event_type, outcome=outcome).inc()
        self._handler_seconds.labels(event_type=event_type).observe(seconds)

    def failed(self, event_type: str) -> None:
        self._failed.labels(event_type=event_type).inc()

    def observe_http(self, route: str, method: str, status: int, seconds: float) -> None:
        self._http_seconds.labels(route=route, method=method, status=str(status)).observe(seconds)

    # --- read at scrape time ------------------------------------------------------------------------------------

    def watch(
        self,
        *,
        consumer: Callable[[], Mapping[str, Any]] | None = None,
        outbox: Callable[[], Mapping[str, Any]] | None = None,
        outbox_stuck_after: float = 120.0,
        figures: Callable[[], Mapping[str, int]] | None = None,
    ) -> None:
        """Read the consumer's and the relay's status, and the business figures, whenever /metrics is scraped."""
        self._state.consumer = consumer
        self._state.outbox = outbox
        self._state.outbox_stuck_after = outbox_stuck_after
        self._state.figures = figures

    def render(self) -> tuple[bytes, str]:
        """The text exposition format: the body and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _StateCollector(Collector):
    """Gauges computed at scrape time. A source that fails (the database away) leaves its gauges out of that scrape."""

    def __init__(self, service: str):
        self.service = service
        self.consumer: Callable[[], Mapping[str, Any]] | None = None
        self.outbox: Callable[[], Mapping[str, Any]] | None = None
        self.outbox_stuck_after = 120.0
        self.figures: Callable[[], Mapping[str, int]] | None = None

    def describe(self) -> Iterable:
        return []  # computed at scrape time: nothing to check at registration

    def collect(self) -> Iterable:
        alerts = GaugeMetricFamily(
            "clinic_alert", "1 while an alert condition of this service holds, else 0.", labels=["condition"]
        )
        consumer = _read(self.consumer, "consumer status")
        if consumer is not None:
            consuming = bool(consumer.get("consuming"))
            yield GaugeMetricFamily(
                "clinic_consumer_connected", "1 while the queue consumer is connected and consuming.", value=consuming
            )
            alerts.add_metric(["consumer_not_consuming"], 0 if consuming else 1)
        outbox = _read(self.outbox, "outbox status")
        if outbox is not None:
            yield GaugeMetricFamily(
                "clinic_outbox_pending", "Events in the outbox not yet published.", value=outbox.get("pending") or 0
            )
            age = outbox.get("oldest_unsent_age_seconds")
            yield GaugeMetricFamily(
                "clinic_outbox_oldest_unsent_age_seconds",
                "Age of the oldest event not yet published (0 when none waits).",
                value=age or 0.0,
            )
            stuck = age is not None and age > self.outbox_stuck_after
            alerts.add_metric(["outbox_row_older_than_threshold"], 1 if stuck else 0)
        figures = _read(self.figures, "business figures")
        for name, value in (figures or {}).items():
            yield GaugeMetricFamily(f"clinic_{name}", f"Business figure: {name.replace('_', ' ')}.", value=value)
            if name == "rides_at_risk":
                alerts.add_metric(["ride_at_risk"], 1 if value else 0)
        yield alerts


def _read(source: Callable[[], Mapping[str, Any]] | None, what: str) -> Mapping[str, Any] | None:
    if source is None:
        return None
    try:
        return source()
    except Exception as exc:  # a scrape must answer even while the database is away
        log.warning("metrics: %s unavailable (%s)", what, describe(exc))
        return None
