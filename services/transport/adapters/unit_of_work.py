"""The transport service's unit of work: rides, inbox and outbox in one transaction."""
from sqlalchemy import Connection

from shared.persistence import SqlUnitOfWork

from .repositories import SqlRideRepository


class TransportUnitOfWork(SqlUnitOfWork):
    def open_repositories(self, connection: Connection) -> None:
        self.rides = SqlRideRepository(connection)
