"""``python -m services``: the whole system in one process, for a first look and for development.

With the embedded defaults (kombu's in-memory transport, one SQLite file per service) it needs nothing but Python.
Set BROKER_URL and DATABASE_URL to run the same three services on RabbitMQ and PostgreSQL.
"""
import os
from pathlib import Path

from sqlalchemy.engine import make_url

from shared.logging_setup import configure_logging
from shared.runtime import run_until_signalled
from shared.settings import Settings

from .notifications.bootstrap import bootstrap as notifications
from .scheduler.bootstrap import bootstrap as scheduler
from .transport.bootstrap import bootstrap as transport

EMBEDDED_BROKER = "memory://"


def settings_for(service: str) -> Settings:
    environ = dict(os.environ)
    environ.setdefault("BROKER_URL", EMBEDDED_BROKER)
    environ.pop("PORT", None)  # each service keeps its own port: 8001, 8002, 8003
    url = environ.get("DATABASE_URL")
    if url and make_url(url).get_backend_name() == "sqlite":
        # PostgreSQL gives each service a schema of its own in a shared database; SQLite needs a file each.
        database = Path(make_url(url).database or "clinic.sqlite3")
        own_file = database.with_name(f"{database.stem}-{service}{database.suffix}")
        environ["DATABASE_URL"] = str(make_url(url).set(database=str(own_file)))
    return Settings.from_environment(service, environ)


def main() -> None:
    configure_logging(os.environ.get("LOG_LEVEL", "INFO"))
    run_until_signalled(
        scheduler(settings_for("scheduler")),
        transport(settings_for("transport")),
        notifications(settings_for("notifications")),
    )


if __name__ == "__main__":
    main()
