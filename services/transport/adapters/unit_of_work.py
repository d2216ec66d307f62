"""The transport service's unit of work: rides, their schedules and requests, inbox and outbox in one transaction."""

from sqlalchemy import Connection

from shared.persistence import SqlUnitOfWork

from .repositories import (
    SqlAtRiskCheckRepository,
    SqlProviderRequestRepository,
    SqlRideRepository,
    SqlTombstoneRepository,
    SqlWebhookNoticeRepository,
)


class TransportUnitOfWork(SqlUnitOfWork):
    def open_repositories(self, connection: Connection) -> None:
        self.rides = SqlRideRepository(connection)
        self.tombstones = SqlTombstoneRepository(connection)
        self.provider_requests = SqlProviderRequestRepository(connection)
        self.at_risk_checks = SqlAtRiskCheckRepository(connection)
        self.webhook_notices = SqlWebhookNoticeRepository(connection)
