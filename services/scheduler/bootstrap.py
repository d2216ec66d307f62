"""The scheduler's composition root: builds the real adapters, or takes fakes from tests."""

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from shared.log_context import as_service
from shared.messaging import CLINIC_TOPOLOGY, EventConsumer, EventPublisher, RetryPolicy
from shared.messaging.dead_letters import BrokerUnavailable
from shared.messaging.topology import SCHEDULER_QUEUE
from shared.metrics import ServiceMetrics
from shared.persistence import utcnow
from shared.persistence.housekeeping import Housekeeper
from shared.persistence.service_database import open_service_database
from shared.runtime import ServiceRuntime
from shared.settings import Settings
from shared.web import create_service_app
from shared.web.health import service_readiness
from shared.web.reference import serve_api_reference

from . import SERVICE_NAME
from .adapters import tables
from .adapters.clinic_config import load_clinic
from .adapters.notifications_client import DEFAULT_URL as NOTIFICATIONS_DEFAULT_URL
from .adapters.notifications_client import NotificationsClient, SentMessage
from .adapters.unit_of_work import SchedulerUnitOfWork
from .api.http import create_api
from .api.openapi import build_openapi
from .api.ops import install_ops_api
from .consumer import event_handlers
from .domain.clinic import Clinic
from .domain.staff import SERVICE_ACTOR
from .ops_setup import AlertsCollector, OpsSettings, build_ops, readiness_answer
from .web import FrontDesk, FrontDeskSettings

MIGRATIONS = str(Path(__file__).resolve().parent / "migrations")


@as_service(SERVICE_NAME)
def bootstrap(
    settings: Settings,
    *,
    clinic: Clinic | None = None,
    publisher_factory: Callable[[], EventPublisher] | None = None,
    clock: Callable[[], datetime] = utcnow,
    retry: RetryPolicy | None = None,
    front_desk: FrontDeskSettings | None = None,
    messages_of: Callable[[str], list[SentMessage] | None] | None = None,
    ops: OpsSettings | None = None,
) -> ServiceRuntime:
    clinic = clinic or load_clinic()
    metrics = ServiceMetrics(SERVICE_NAME)
    engine, relay = open_service_database(
        service=SERVICE_NAME,
        database_url=settings.database_url,
        broker_url=settings.broker_url,
        migrations=MIGRATIONS,
        tables=tables.messaging,
        publisher_factory=publisher_factory,
        on_published=metrics.published,
    )

    def uow_factory() -> SchedulerUnitOfWork:
        return SchedulerUnitOfWork(engine, tables.messaging, SERVICE_NAME, on_commit=relay.notify)

    consumer = EventConsumer(
        settings.broker_url,
        CLINIC_TOPOLOGY,
        SCHEDULER_QUEUE,
        event_handlers(uow_factory),
        retry=retry or RetryPolicy(window=settings.retry_window_seconds),
        observer=metrics,
    )
    readiness = service_readiness(
        SERVICE_NAME, engine=engine, broker_url=settings.broker_url, consumer=consumer, relay=relay, metrics=metrics
    )
    if messages_of is None:
        # The pages show what notifications sent (asked briefly, kept a little while; "unknown" when it is away).
        notifications_url = os.environ.get("NOTIFICATIONS_URL") or NOTIFICATIONS_DEFAULT_URL
        messages_of = NotificationsClient(notifications_url, settings.service_token).messages_of
    # The ops page and /api/ops: queue figures, the services' readiness, dead letters; the sampler feeds its charts.
    operations, queue_sampler = build_ops(
        ops or OpsSettings.from_environment(),
        broker_url=settings.broker_url,
        topology=CLINIC_TOPOLOGY,
        uow_factory=uow_factory,
        clinic=clinic,
        clock=clock,
        local_readiness=readiness_answer(readiness),
    )
    pages = FrontDesk(
        front_desk or FrontDeskSettings.from_environment(),
        uow_factory=uow_factory,
        clinic=clinic,
        clock=clock,
        messages=messages_of,
        ops=operations,
    )
    api = create_api(uow_factory=uow_factory, clinic=clinic, clock=clock)
    install_ops_api(api, operations, unavailable=(BrokerUnavailable,))
    app = create_service_app(
        __name__,
        api,
        service_token=settings.service_token,
        health=lambda: {"service": SERVICE_NAME, **consumer.status(), "outbox_pending": relay.pending()},
        service=SERVICE_NAME,
        readiness=readiness,
        metrics=metrics,
        staff=pages.api_caller,
        service_caller=SERVICE_ACTOR,
        page_error=pages.error_page,
        is_page=pages.is_page,
    )
    pages.install(app, api)
    metrics.registry.register(AlertsCollector(operations))
    serve_api_reference(app, build_openapi(app, clinic))
    housekeeper = Housekeeper(
        engine, tables.messaging, outbox_retention=settings.outbox_retention, inbox_retention=settings.inbox_retention
    )
    return ServiceRuntime(
        SERVICE_NAME, app, settings.host, settings.port, workers=[relay, consumer, housekeeper, queue_sampler]
    )
