"""Messages in the notifications service's database."""

from sqlalchemy import Connection, insert, select, update

from ..domain.messages import Message, MessageStatus
from .tables import messages


class SqlMessageRepository:
    def __init__(self, connection: Connection):
        self._connection = connection

    def add(self, message: Message) -> None:
        self._connection.execute(insert(messages).values(**_row_of(message)))

    def upsert(self, message: Message) -> None:
        exists = self._connection.execute(select(messages.c.id).where(messages.c.id == message.id)).first()
        if exists:
            self._connection.execute(update(messages).where(messages.c.id == message.id).values(**_row_of(message)))
        else:
            self.add(message)

    def find(self, session_id: str, kind: str, dedupe_key: str = "") -> Message | None:
        row = self._connection.execute(
            select(messages).where(
                messages.c.session_id == session_id, messages.c.kind == kind, messages.c.dedupe_key == dedupe_key
            )
        ).first()
        return _message_of(row) if row else None

    def for_session(self, session_id: str) -> list[Message]:
        rows = self._connection.execute(
            select(messages).where(messages.c.session_id == session_id).order_by(messages.c.created_at)
        )
        return [_message_of(row) for row in rows]

    def latest(self, limit: int = 100) -> list[Message]:
        rows = self._connection.execute(select(messages).order_by(messages.c.created_at.desc()).limit(limit))
        return [_message_of(row) for row in rows]


def _row_of(message: Message) -> dict:
    return {
        "id": message.id,
        "session_id": message.session_id,
        "patient_id": message.patient_id,
        "kind": message.kind,
        "channel": message.channel,
        "subject": message.subject,
        "body": message.body,
        "status": message.status.value,
        "created_at": message.created_at,
        "sent_at": message.sent_at,
        "failure_reason": message.failure_reason,
        "recipient": message.recipient,
        "dedupe_key": message.dedupe_key,
    }


def _message_of(row) -> Message:
    return Message(
        id=row.id,
        session_id=row.session_id,
        patient_id=row.patient_id,
        kind=row.kind,
        channel=row.channel,
        subject=row.subject,
        body=row.body,
        status=MessageStatus(row.status),
        created_at=row.created_at,
        sent_at=row.sent_at,
        failure_reason=row.failure_reason,
        recipient=row.recipient,
        dedupe_key=row.dedupe_key,
    )
