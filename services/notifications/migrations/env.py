from alembic import context

from shared.persistence.migrations import run_migrations

run_migrations(context)
