"""Alembic, run from code: each service keeps its own migrations and applies them on start."""

import logging
import zlib

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

log = logging.getLogger(__name__)


def upgrade_to_head(engine: Engine, script_location: str, *, schema: str) -> None:
    """Create the service's schema if needed and apply its migrations; safe when replicas start together."""
    config = Config()
    config.set_main_option("script_location", script_location)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({zlib.crc32(schema.encode())})")
            connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    log.info("database schema of %s is up to date", schema)


def run_migrations(context) -> None:
    """The body of every service's alembic env.py."""
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
