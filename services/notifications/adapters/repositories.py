"""Messages in the notifications service's database."""

from datetime import datetime

from sqlalchemy import Connection, insert, or_, select, update

from ..domain.messages import Message, MessageStatus
from .tables import messages

PENDING = (MessageStatus.SCHEDULED.value, MessageStatus.SENDING.value)
FIELDS = (
    "id",
    "session_id",
    "patient_id",
    "kind",
    "channel",
    "subject",
    "body",
    "created_at",
    "sent_at",
    "last_error",
    "recipient",
    "dedupe_key",
    "due_at",
    "next_attempt_at",
    "attempts",
    "language",
    "ride_id",
    "detail",
    "cancel_reason",
    "fell_back",
)


class SqlMessageRepository:
    def __init__(self, connection: Connection):
        self._connection = connection
        self.added = 0

    def add(self, message: Message) -> None:
        self._connection.execute(insert(messages).values(**_row_of(message)))
        self.added += 1

    def save(self, message: Message, *, was: MessageStatus | None = None) -> bool:
        """The message's new state, letting go of the worker's claim unless it is in flight; with ``was``, only if
        its stored status still is that one (a cancellation and the worker's start cannot both win). Whether saved."""
        query = update(messages).where(messages.c.id == message.id)
        if was is not None:
            query = query.where(messages.c.status == was.value)
        # A message in flight stays claimed: no other look takes it until its claim runs out (a crash).
        release = {} if message.status is MessageStatus.SENDING else {"claimed_until": None}
        return self._connection.execute(query.values(**_row_of(message), **release)).rowcount == 1

    def get(self, message_id: str) -> Message | None:
        row = self._connection.execute(select(messages).where(messages.c.id == message_id)).first()
        return _message_of(row) if row else None

    def for_session(self, session_id: str) -> list[Message]:
        rows = self._connection.execute(
            select(messages).where(messages.c.session_id == session_id).order_by(messages.c.created_at, messages.c.id)
        )
        return [_message_of(row) for row in rows]

    def latest(self, limit: int = 100, *, status: MessageStatus | None = None) -> list[Message]:
        query = select(messages).order_by(messages.c.created_at.desc(), messages.c.id).limit(limit)
        if status is not None:
            query = query.where(messages.c.status == status.value)
        return [_message_of(row) for row in self._connection.execute(query)]

    def due(self, now: datetime, limit: int = 100) -> list[Message]:
        """Scheduled or in-flight messages whose time came and that no worker holds."""
        query = (
            select(messages)
            .where(
                messages.c.status.in_(PENDING),
                messages.c.next_attempt_at <= now,
                or_(messages.c.claimed_until.is_(None), messages.c.claimed_until < now),
            )
            .order_by(messages.c.next_attempt_at, messages.c.id)
            .limit(limit)
        )
        # Two replicas' workers skip each other's rows rather than wait for them.
        if self._connection.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return [_message_of(row) for row in self._connection.execute(query)]

    def claim(self, message_id: str, *, now: datetime, until: datetime) -> bool:
        """Take the message for this worker until ``until``; False when another worker holds it or it is settled."""
        result = self._connection.execute(
            update(messages)
            .where(
                messages.c.id == message_id,
                messages.c.status.in_(PENDING),
                or_(messages.c.claimed_until.is_(None), messages.c.claimed_until < now),
            )
            .values(claimed_until=until)
        )
        return result.rowcount == 1


def _row_of(message: Message) -> dict:
    return {name: getattr(message, name) for name in FIELDS} | {"status": message.status.value}


def _message_of(row) -> Message:
    values = {name: getattr(row, name) for name in FIELDS} | {"fell_back": bool(row.fell_back)}
    return Message(**values, status=MessageStatus(row.status))
