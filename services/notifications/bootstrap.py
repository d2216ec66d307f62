"""The notifications service's composition root: builds the real adapters, or takes fakes from tests.

Nothing connects here but the database (migrations); the channels and the templates are checked here, so a bad
setting or a template with an error refuses the start. The consumer, the relay and the delivery worker connect when
the runtime starts them.
"""

import os
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from shared.log_context import as_service
from shared.messaging import CLINIC_TOPOLOGY, EventConsumer, EventPublisher, RetryPolicy
from shared.messaging.topology import NOTIFICATIONS_QUEUE
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
from .adapters.channels import channels_from_environment
from .adapters.figures import NotificationFigures
from .adapters.local_outbox import LocalOutboxChannel
from .adapters.scheduler_directory import SchedulerDirectory
from .adapters.templates import TemplateLibrary
from .adapters.transport_links import TransportLinks
from .adapters.unit_of_work import NotificationsUnitOfWork
from .api.http import build_openapi, create_api
from .api.outbox_page import create_outbox_page
from .consumer import event_handlers
from .delivery_worker import DeliveryWorker, Directory, Peers
from .domain.outgoing import Channel
from .domain.rides import EscortLinks
from .domain.wording import Templates
from .settings import NotificationSettings

MIGRATIONS = str(Path(__file__).resolve().parent / "migrations")


@as_service(SERVICE_NAME)
def bootstrap(
    settings: Settings,
    *,
    notifications: NotificationSettings | None = None,
    publisher_factory: Callable[[], EventPublisher] | None = None,
    channels: Mapping[str, Channel] | None = None,
    templates: Templates | None = None,
    directory: Directory | None = None,
    links: EscortLinks | None = None,
    clock: Callable[[], datetime] = utcnow,
    retry: RetryPolicy | None = None,
    delivery_poll_interval: float = 1.0,
) -> ServiceRuntime:
    notifications = notifications or NotificationSettings.from_environment()
    channels = channels if channels is not None else channels_from_environment(os.environ)
    templates = templates or TemplateLibrary.from_environment(os.environ)
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
    wake: list[Callable[[], None]] = []

    def uow_factory() -> NotificationsUnitOfWork:
        return NotificationsUnitOfWork(
            engine, tables.messaging, SERVICE_NAME, on_commit=relay.notify, on_planned=lambda: [w() for w in wake]
        )

    peers = Peers(
        directory=directory or SchedulerDirectory(settings.scheduler_url, settings.service_token),
        links=links or TransportLinks(notifications.transport_url, settings.service_token),
        channels=channels,
        templates=templates,
        respect=notifications.respect,
    )
    worker = DeliveryWorker(uow_factory, peers, clock=clock, poll_interval=delivery_poll_interval)
    wake.append(worker.notify)
    consumer = EventConsumer(
        settings.broker_url,
        CLINIC_TOPOLOGY,
        NOTIFICATIONS_QUEUE,
        event_handlers(uow_factory, notifications.policy, clock),
        retry=retry or RetryPolicy(window=settings.retry_window_seconds),
        observer=metrics,
    )
    readiness = service_readiness(
        SERVICE_NAME,
        engine=engine,
        broker_url=settings.broker_url,
        consumer=consumer,
        relay=relay,
        metrics=metrics,
        figures=NotificationFigures(engine, clock),
    )
    zone = notifications.clinic_time_zone
    app = create_service_app(
        __name__,
        create_api(uow_factory=uow_factory, clinic_zone=zone),
        service_token=settings.service_token,
        health=lambda: {"service": SERVICE_NAME, **consumer.status(), "outbox_pending": relay.pending()},
        service=SERVICE_NAME,
        readiness=readiness,
        metrics=metrics,
    )
    local_only = all(isinstance(channel, LocalOutboxChannel) for channel in channels.values())
    app.register_blueprint(create_outbox_page(uow_factory=uow_factory, clinic_zone=zone, enabled=local_only))
    serve_api_reference(app, build_openapi(app))
    # The relay stays first: tests and ops find it there.
    housekeeper = Housekeeper(
        engine, tables.messaging, outbox_retention=settings.outbox_retention, inbox_retention=settings.inbox_retention
    )
    workers = [relay, consumer, worker, housekeeper]
    return ServiceRuntime(SERVICE_NAME, app, settings.host, settings.port, workers=workers)
