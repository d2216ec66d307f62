"""Settings of one service process, read from the environment."""

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

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
            retry_window_seconds=_positive_seconds(env.get("RETRY_WINDOW_SECONDS"), default=3600.0),
        )


def _positive_seconds(text: str | None, *, default: float) -> float:
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"RETRY_WINDOW_SECONDS must be a number of seconds, not {text!r}") from None
    if not value > 0:
        raise ValueError("RETRY_WINDOW_SECONDS must be more than 0")
    return value
