"""Settings of one service process, read from the environment."""

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

log = logging.getLogger(__name__)

DEFAULT_BROKER_URL = "amqp://guest:guest@localhost:5672//"
DEVELOPMENT_TOKEN = "dev-service-token"
DEFAULT_PORTS = {"scheduler": 8001, "transport": 8002, "notifications": 8003}


@dataclass(frozen=True)
class Settings:
    service: str
    broker_url: str
    database_url: str
    port: int
    service_token: str
    scheduler_url: str
    host: str = "127.0.0.1"
    log_level: str = "INFO"
    # How long an event that keeps failing for a passing reason is tried again before it is dead-lettered.
    retry_window_seconds: float = 3600.0
    # How long published outbox rows and the ids of handled events are kept before housekeeping prunes them. The
    # inbox keeps its ids at least as long as the outbox keeps its rows: the embedded default publishes again every
    # row still in the outbox when it starts, and the inbox is what makes that harmless.
    outbox_retention_hours: float = 168.0
    inbox_retention_hours: float = 336.0

    def __post_init__(self) -> None:
        if not self.outbox_retention_hours > 0:
            raise ValueError("OUTBOX_RETENTION_HOURS must be more than 0")
        if self.inbox_retention_hours < self.outbox_retention_hours:
            raise ValueError(
                f"INBOX_RETENTION_HOURS ({self.inbox_retention_hours:g}) must be at least OUTBOX_RETENTION_HOURS "
                f"({self.outbox_retention_hours:g}): an event still in an outbox may be published again, and only "
                "the inbox tells a consumer it already handled it"
            )

    @property
    def outbox_retention(self) -> timedelta:
        return timedelta(hours=self.outbox_retention_hours)

    @property
    def inbox_retention(self) -> timedelta:
        return timedelta(hours=self.inbox_retention_hours)

    @classmethod
    def from_environment(cls, service: str, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        token = env.get("SERVICE_TOKEN") or DEVELOPMENT_TOKEN
        if token == DEVELOPMENT_TOKEN:
            log.warning("SERVICE_TOKEN is not set: using the development token; set it outside development")
        return cls(
            service=service,
            broker_url=env.get("BROKER_URL", DEFAULT_BROKER_URL),
            database_url=env.get("DATABASE_URL") or f"sqlite:///var/{service}.sqlite3",
            port=int(env.get("PORT", DEFAULT_PORTS[service])),
            service_token=token,
            scheduler_url=env.get("SCHEDULER_URL", f"http://127.0.0.1:{DEFAULT_PORTS['scheduler']}"),
            host=env.get("HOST", "127.0.0.1"),
            log_level=env.get("LOG_LEVEL", "INFO"),
            retry_window_seconds=positive_number(env, "RETRY_WINDOW_SECONDS", default=3600.0, unit="seconds"),
            outbox_retention_hours=positive_number(env, "OUTBOX_RETENTION_HOURS", default=168.0, unit="hours"),
            inbox_retention_hours=positive_number(env, "INBOX_RETENTION_HOURS", default=336.0, unit="hours"),
        )


def positive_number(env: Mapping[str, str], name: str, *, default: float, unit: str) -> float:
    """The setting ``name`` as a number above 0 (``default`` when unset); refused, saying why, otherwise."""
    text = env.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number of {unit}, not {text!r}") from None
    if not value > 0:
        raise ValueError(f"{name} must be more than 0")
    return value
