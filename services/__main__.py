"""``python -m services``: the whole system in one process, for a first look and for development.

With the embedded defaults (kombu's in-memory transport, one SQLite file per service) it needs nothing but Python.
Set BROKER_URL and DATABASE_URL to run the same three services on RabbitMQ and PostgreSQL. Unless RIDE_PROVIDER_URL
names a ride provider, the ride-provider simulator runs beside them (on 8004) and transport books its rides there.
"""

import dataclasses
import os
from collections.abc import Mapping, MutableMapping
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
# Each service listens on a port of its own, 8001 to 8004 unless these say otherwise (PORT, one port, cannot).
PORT_VARIABLES = {
    "scheduler": "SCHEDULER_PORT",
    "transport": "TRANSPORT_PORT",
    "notifications": "NOTIFICATIONS_PORT",
    "ride_provider": "RIDE_PROVIDER_PORT",
}
EMBEDDED_PORTS = {**DEFAULT_PORTS, "ride_provider": EMBEDDED_RIDE_PROVIDER_PORT}


def port_of(service: str, environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    variable = PORT_VARIABLES[service]
    text = env.get(variable)
    if not text:
        return EMBEDDED_PORTS[service]
    try:
        port = int(text)
    except ValueError:
        raise ValueError(f"{variable} must be a port number, not {text!r}") from None
    if not 0 < port < 65536:
        raise ValueError(f"{variable} must be a port number from 1 to 65535")
    return port


def point_at_each_other(environ: MutableMapping[str, str]) -> None:
    """The services' addresses of one another, from their ports, unless given (SCHEDULER_URL, TRANSPORT_URL, ...)."""
    for service in DEFAULT_PORTS:
        environ.setdefault(f"{service.upper()}_URL", f"http://127.0.0.1:{port_of(service, environ)}")


def settings_for(service: str) -> Settings:
    environ = dict(os.environ)
    environ.setdefault("BROKER_URL", EMBEDDED_BROKER)
    environ["PORT"] = str(port_of(service, environ))  # each its own port: 8001, 8002, 8003 by default
    environ.setdefault("SCHEDULER_URL", f"http://127.0.0.1:{port_of('scheduler', environ)}")
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
    port = port_of("ride_provider", environ)
    simulator = SimulatorSettings.from_environment({**environ, "PORT": str(port)})
    loopback = "127.0.0.1" if simulator.host in ("", "0.0.0.0", "::") else simulator.host
    environ["RIDE_PROVIDER_URL"] = f"http://{loopback}:{port}"
    transport_url = f"http://{loopback}:{port_of('transport', environ)}{WEBHOOK_PATH}"
    return dataclasses.replace(simulator, webhook_url=environ.get("RIDE_PROVIDER_WEBHOOK_URL") or transport_url)


def main() -> None:
    configure_logging(os.environ.get("LOG_LEVEL", "INFO"))
    point_at_each_other(os.environ)
    simulator = embedded_ride_provider(os.environ)
    # SIGTERM and SIGINT stop every runtime (their servers close their sockets, their workers end), then main returns.
    run_until_signalled(
        # First, so that the provider is listening before transport's worker asks it anything.
        *([RideProviderSimulator(simulator).runtime] if simulator else []),
        scheduler(settings_for("scheduler")),
        transport(settings_for("transport")),
        notifications(settings_for("notifications")),
    )


if __name__ == "__main__":
    main()
