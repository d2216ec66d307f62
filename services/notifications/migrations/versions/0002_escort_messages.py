"""Messages to escorts: who a message is for, and which occasion of its kind it is.

A session's escort is asked again each time its ride is rescheduled, so a kind is no longer sent once per session:
uniqueness moves from (session, kind) to (session, kind, dedupe_key). Existing rows are patients' once-per-session
messages, hence the defaults.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("recipient", sa.String(16), nullable=False, server_default="patient"))
        batch.add_column(sa.Column("dedupe_key", sa.String(128), nullable=False, server_default=""))
        batch.drop_constraint("uq_messages_session_kind", type_="unique")
        batch.create_unique_constraint("uq_messages_session_kind_key", ["session_id", "kind", "dedupe_key"])


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_constraint("uq_messages_session_kind_key", type_="unique")
        batch.create_unique_constraint("uq_messages_session_kind", ["session_id", "kind"])
        batch.drop_column("dedupe_key")
        batch.drop_column("recipient")
