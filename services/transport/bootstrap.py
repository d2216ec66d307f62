"""The transport service's composition root: builds the real adapters, or takes fakes from tests.

Nothing connects at import, nor here but the database (migrations): the consumer, the relay and the two workers
connect when the runtime starts them.
"""

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from shared.log_context import as_service
from shared.messaging import CLINIC_TOPOLOGY, EventConsumer, EventPublisher, RetryPolicy
from shared.messaging.topology import TRANSPORT_QUEUE
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
from .adapters.escort_tokens import EscortTokens
from .adapters.figures import TransportFigures
from .adapters.ride_provider import RideProviderClient
from .adapters.scheduler_directory import SchedulerDirectory
from .adapters.unit_of_work import TransportUnitOfWork
from .api.escort_pages import create_escort_pages
from .api.http import build_openapi, create_api
from .api.webhooks import create_webhooks
from .at_risk_worker import AtRiskWorker
from .consumer import event_handlers
from .provider_worker import ProviderWorker, RideProvider
from .settings import TransportSettings

MIGRATIONS = str(Path(__file__).resolve().parent / "migrations")


@as_service(SERVICE_NAME)
def bootstrap(
    settings: Settings,
    *,
    transport: TransportSettings | None = None,
    publisher_factory: Callable[[], EventPublisher] | None = None,
    clock: Callable[[], datetime] = utcnow,
    retry: RetryPolicy | None = None,
    provider: RideProvider | None = None,
    directory=None,
    provider_poll_interval: float = 1.0,
    at_risk_poll_interval: float = 15.0,
) -> ServiceRuntime:
    transport = transport or TransportSettings.from_environment()
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
    directory = directory or SchedulerDirectory(settings.scheduler_url, settings.service_token)
    provider = provider or RideProviderClient(transport.provider_url, transport.provider_key)
    wake: list[Callable[[], None]] = [relay.notify]

    def uow_factory() -> TransportUnitOfWork:
        return TransportUnitOfWork(engine, tables.messaging, SERVICE_NAME, on_commit=lambda: [w() for w in wake])

    provider_worker = ProviderWorker(
        uow_factory, provider, directory, clock=clock, poll_interval=provider_poll_interval
    )
    wake.append(provider_worker.notify)
    at_risk_worker = AtRiskWorker(uow_factory, clock=clock, poll_interval=at_risk_poll_interval)
    consumer = EventConsumer(
        settings.broker_url,
        CLINIC_TOPOLOGY,
        TRANSPORT_QUEUE,
        event_handlers(uow_factory, clock, transport.at_risk_before),
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
        figures=TransportFigures(engine, clock),
    )
    tokens = EscortTokens(transport.link_secret)
    app = create_service_app(
        __name__,
        create_api(
            uow_factory=uow_factory,
            clock=clock,
            clinic_zone=transport.clinic_time_zone,
            tokens=tokens,
            public_url=transport.public_url,
        ),
        service_token=settings.service_token,
        health=lambda: {"service": SERVICE_NAME, **consumer.status(), "outbox_pending": relay.pending()},
        service=SERVICE_NAME,
        readiness=readiness,
        metrics=metrics,
    )
    app.register_blueprint(
        create_escort_pages(
            uow_factory=uow_factory,
            tokens=tokens,
            directory=directory,
            clinic_zone=transport.clinic_time_zone,
            clock=clock,
        )
    )
    app.register_blueprint(
        create_webhooks(uow_factory=uow_factory, secret=transport.provider_webhook_secret, clock=clock)
    )
    serve_api_reference(app, build_openapi(app))
    # The relay stays first: tests and ops find it there.
    housekeeper = Housekeeper(
        engine, tables.messaging, outbox_retention=settings.outbox_retention, inbox_retention=settings.inbox_retention
    )
    workers = [relay, consumer, provider_worker, at_risk_worker, housekeeper]
    return ServiceRuntime(SERVICE_NAME, app, settings.host, settings.port, workers=workers)
