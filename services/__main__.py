"""``python -m services``: the whole system in one process, for a first look and for development.

With the embedded defaults (kombu's in-memory transport, one SQLite file per service) it needs nothing but Python.
Set BROKER_URL and DATABASE_URL to run the same three services on RabbitMQ and PostgreSQL. Unless RIDE_PROVIDER_URL
names a ride provider, the ride-provider simulator runs beside them (on 8004) and transport books its rides there.
"""

import dataclasses
import os
from collections.abc import MutableMapping
from pathlib import Path

from sqlalchemy.engine import make_url

from shared.logging_setup import configure_logging
from shared.runtime import run_until_signalled
from shared.settings import DEFAULT_PORTS, Settings
from simulators.ride_provider import RideProviderSimulator, SimulatorSettings
from simulators.ride_provider.settings import DEFAULT_KEY, DEFAULT_WEBHOOK_SECRET

from .notifications.bootstrap import bootstrap as notifications
from .scheduler.bootstrap import bootstrap as scheduler
from .transport.bootstrap import bootstrap as transport

EMBEDDED_BROKER = "memory://"
EMBEDDED_RIDE_PROVIDER_PORT = 8004
WEBHOOK_PATH = "/webhooks/ride-provider"


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


def embedded_ride_provider(environ: MutableMapping[str, str]) -> SimulatorSettings | None:
    """The simulator to run beside the services, with transport's provider settings (in `environ`) pointing at it.

    None when RIDE_PROVIDER_URL is set: a provider was chosen, so no simulator is started and nothing is changed.
    Transport reads its provider settings from the environment, so this is where they meet: one key and one webhook
    secret, shared by the simulator and transport, whether given or the development ones.
    """
    if environ.get("RIDE_PROVIDER_URL"):
        return None
    environ["RIDE_PROVIDER_KEY"] = environ.get("RIDE_PROVIDER_KEY") or DEFAULT_KEY
    environ["RIDE_PROVIDER_WEBHOOK_SECRET"] = environ.get("RIDE_PROVIDER_WEBHOOK_SECRET") or DEFAULT_WEBHOOK_SECRET
    simulator = SimulatorSettings.from_environment({**environ, "PORT": str(EMBEDDED_RIDE_PROVIDER_PORT)})
    loopback = "127.0.0.1" if simulator.host in ("", "0.0.0.0", "::") else simulator.host
    environ["RIDE_PROVIDER_URL"] = f"http://{loopback}:{EMBEDDED_RIDE_PROVIDER_PORT}"
    transport_url = f"http://{loopback}:{DEFAULT_PORTS['transport']}{WEBHOOK_PATH}"
    return dataclasses.replace(simulator, webhook_url=environ.get("RIDE_PROVIDER_WEBHOOK_URL") or transport_url)


def main() -> None:
    configure_logging(os.environ.get("LOG_LEVEL", "INFO"))
    simulator = embedded_ride_provider(os.environ)
    run_until_signalled(
        # First, so that the provider is listening before transport's worker asks it anything.
        *([RideProviderSimulator(simulator).runtime] if simulator else []),
        scheduler(settings_for("scheduler")),
        transport(settings_for("transport")),
        notifications(settings_for("notifications")),
    )


if __name__ == "__main__":
    main()
