"""The notifications service's business figure for ops: messages that failed in the last 24 hours.

A message fails for good when it has nobody to go to, or every channel gave up on it. A count only: no patient data.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select

from ..domain.messages import MessageStatus
from .tables import messages

WINDOW = timedelta(hours=24)


class NotificationFigures:
    def __init__(self, engine: Engine, clock: Callable[[], datetime]):
        self._engine = engine
        self._clock = clock

    def __call__(self) -> dict[str, int]:
        return {"messages_failed": self.messages_failed()}

    def messages_failed(self) -> int:
        since = self._clock() - WINDOW
        # No failed_at is kept: a message due (or, unscheduled, created) in the window counts.
        query = (
            select(func.count())
            .select_from(messages)
            .where(
                messages.c.status == MessageStatus.FAILED.value,
                func.coalesce(messages.c.due_at, messages.c.created_at) >= since,
            )
        )
        with self._engine.connect().execution_options(read_only=True, postgresql_readonly=True) as connection:
            return int(connection.execute(query).scalar_one())
