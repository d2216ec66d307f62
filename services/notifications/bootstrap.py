"""The notifications service's composition root: builds the real adapters, or takes fakes from tests."""

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from shared.messaging import CLINIC_TOPOLOGY, EventConsumer, EventPublisher, RetryPolicy
from shared.messaging.topology import NOTIFICATIONS_QUEUE
from shared.persistence import utcnow
from shared.persistence.service_database import open_service_database
from shared.runtime import ServiceRuntime
from shared.settings import Settings
from shared.web import create_service_app
from shared.web.reference import serve_api_reference

from . import SERVICE_NAME
from .adapters import tables
from .adapters.gateways import HttpGateway, KeepInDatabase
from .adapters.scheduler_directory import SchedulerDirectory
from .adapters.transport_links import DEFAULT_TRANSPORT_URL, TransportLinks
from .adapters.unit_of_work import NotificationsUnitOfWork
from .api.http import build_openapi, create_api
from .consumer import event_handlers
from .domain.delivery import Gateway
from .domain.rides import EscortLinks

MIGRATIONS = str(Path(__file__).resolve().parent / "migrations")


def default_gateway() -> Gateway:
    url = os.environ.get("NOTIFY_GATEWAY_URL")
    return HttpGateway(url, os.environ.get("NOTIFY_GATEWAY_TOKEN")) if url else KeepInDatabase()


def bootstrap(
    settings: Settings,
    *,
    publisher_factory: Callable[[], EventPublisher] | None = None,
    gateway: Gateway | None = None,
    directory=None,
    links: EscortLinks | None = None,
    clock: Callable[[], datetime] = utcnow,
    retry: RetryPolicy | None = None,
) -> ServiceRuntime:
    engine, relay = open_service_database(
        service=SERVICE_NAME,
        database_url=settings.database_url,
        broker_url=settings.broker_url,
        migrations=MIGRATIONS,
        tables=tables.messaging,
        publisher_factory=publisher_factory,
    )

    def uow_factory() -> NotificationsUnitOfWork:
        return NotificationsUnitOfWork(engine, tables.messaging, SERVICE_NAME, on_commit=relay.notify)

    handlers = event_handlers(
        uow_factory,
        directory or SchedulerDirectory(settings.scheduler_url, settings.service_token),
        gateway or default_gateway(),
        clock,
        links or TransportLinks(os.environ.get("TRANSPORT_URL") or DEFAULT_TRANSPORT_URL, settings.service_token),
    )
    consumer = EventConsumer(
        settings.broker_url,
        CLINIC_TOPOLOGY,
        NOTIFICATIONS_QUEUE,
        handlers,
        retry=retry or RetryPolicy(window=settings.retry_window_seconds),
    )
    app = create_service_app(
        __name__,
        create_api(uow_factory=uow_factory),
        service_token=settings.service_token,
        health=lambda: {"service": SERVICE_NAME, **consumer.status(), "outbox_pending": relay.pending()},
    )
    serve_api_reference(app, build_openapi(app))
    return ServiceRuntime(SERVICE_NAME, app, settings.host, settings.port, workers=[relay, consumer])
