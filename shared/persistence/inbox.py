"""The inbox: event ids a consumer has already handled, recorded in the same transaction as the effect."""

from sqlalchemy import Connection, Table, insert, select

from shared.contract import Event

from .types import utcnow


class Inbox:
    def __init__(self, connection: Connection, table: Table):
        self._connection = connection
        self._table = table

    def already_processed(self, event: Event) -> bool:
        return (
            self._connection.execute(
                select(self._table.c.event_id).where(self._table.c.event_id == event.event_id)
            ).first()
            is not None
        )

    def record(self, event: Event) -> None:
        self._connection.execute(
            insert(self._table).values(event_id=event.event_id, event_type=event.type, processed_at=utcnow())
        )
