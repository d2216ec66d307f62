"""Messages as durable intents: planned when an event arrives, sent by a worker when due.

Each message gets its due time, its next attempt, the attempts made, the language and the channel it went by (known
only once it is sent, hence nullable, as are its rendered subject and body), what it is about (a ride, a reminder's
threshold), why it was cancelled, and a worker's claim. ``failure_reason`` becomes ``last_error``. A kind may repeat
per recipient: uniqueness is (session, kind, recipient, key). Old rows keep their status (``sent`` stays sent); a
``pending`` one, left by a crash while it was being handed over, becomes ``sending``, so the worker hands it over
again under the same id.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

from shared.persistence import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.alter_column("channel", existing_type=sa.String(16), nullable=True)
        batch.alter_column("subject", existing_type=sa.Text, nullable=True)
        batch.alter_column("body", existing_type=sa.Text, nullable=True)
        batch.alter_column("failure_reason", new_column_name="last_error", existing_type=sa.Text)
        batch.add_column(sa.Column("due_at", UtcDateTime, nullable=True))
        batch.add_column(sa.Column("next_attempt_at", UtcDateTime, nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("language", sa.String(8), nullable=True))
        batch.add_column(sa.Column("ride_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("detail", sa.String(32), nullable=True))
        batch.add_column(sa.Column("cancel_reason", sa.String(64), nullable=True))
        batch.add_column(sa.Column("fell_back", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("claimed_until", UtcDateTime, nullable=True))
        batch.drop_constraint("uq_messages_session_kind_key", type_="unique")
        batch.create_unique_constraint("uq_messages_occasion", ["session_id", "kind", "recipient", "dedupe_key"])
    messages = sa.table(
        "messages",
        sa.column("status", sa.String),
        sa.column("channel", sa.String),
        sa.column("created_at", UtcDateTime),
        sa.column("due_at", UtcDateTime),
        sa.column("next_attempt_at", UtcDateTime),
        sa.column("attempts", sa.Integer),
        sa.column("language", sa.String),
    )
    # Every old message was written when its event arrived, in English, and handed over at once.
    op.execute(
        messages.update().values(
            due_at=messages.c.created_at, next_attempt_at=messages.c.created_at, attempts=1, language="en"
        )
    )
    op.execute(messages.update().where(messages.c.status == "pending").values(status="sending"))
    op.execute(messages.update().where(messages.c.channel == "none").values(channel=None))
    op.create_index("ix_messages_due", "messages", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_messages_due", "messages")
    messages = sa.table(
        "messages",
        sa.column("status", sa.String),
        sa.column("channel", sa.String),
        sa.column("subject", sa.Text),
        sa.column("body", sa.Text),
    )
    op.execute(messages.update().where(messages.c.subject.is_(None)).values(subject=""))
    op.execute(messages.update().where(messages.c.body.is_(None)).values(body=""))
    # The old service knew three states: what is not out yet is pending, what was stored counts as sent.
    op.execute(messages.update().where(messages.c.status.in_(("scheduled", "sending"))).values(status="pending"))
    op.execute(messages.update().where(messages.c.status.in_(("stored", "delivered"))).values(status="sent"))
    op.execute(messages.update().where(messages.c.status == "cancelled").values(status="failed"))
    op.execute(messages.update().where(messages.c.channel.is_(None)).values(channel="none"))
    with op.batch_alter_table("messages") as batch:
        batch.drop_constraint("uq_messages_occasion", type_="unique")
        batch.create_unique_constraint("uq_messages_session_kind_key", ["session_id", "kind", "dedupe_key"])
        for column in (
            "claimed_until",
            "fell_back",
            "cancel_reason",
            "detail",
            "ride_id",
            "language",
            "attempts",
            "next_attempt_at",
            "due_at",
        ):
            batch.drop_column(column)
        batch.alter_column("last_error", new_column_name="failure_reason", existing_type=sa.Text)
        batch.alter_column("body", existing_type=sa.Text, nullable=False)
        batch.alter_column("subject", existing_type=sa.Text, nullable=False)
        batch.alter_column("channel", existing_type=sa.String(16), nullable=False)
