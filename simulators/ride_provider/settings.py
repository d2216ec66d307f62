"""The simulator's settings, read from the environment."""

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_PORT = 8004
DEFAULT_KEY = "dev-ride-provider-key"
DEFAULT_WEBHOOK_URL = "http://127.0.0.1:8002/webhooks/ride-provider"
DEFAULT_WEBHOOK_SECRET = "dev-ride-provider-webhook-secret"


@dataclass(frozen=True)
class SimulatorSettings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    api_key: str = DEFAULT_KEY
    webhook_url: str = DEFAULT_WEBHOOK_URL
    webhook_secret: str = DEFAULT_WEBHOOK_SECRET
    # Seconds from dispatch to driver assigned, from there to arrived, from there to completed.
    driver_delays: tuple[float, float, float] = (1.0, 1.0, 2.0)
    # Seconds before each new attempt at a webhook that was not answered 2xx.
    webhook_retry_delays: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> "SimulatorSettings":
        env = os.environ if environ is None else environ
        delays = _seconds(env.get("RIDE_PROVIDER_DRIVER_DELAYS"), "RIDE_PROVIDER_DRIVER_DELAYS") or cls.driver_delays
        if len(delays) != 3:
            raise ValueError("RIDE_PROVIDER_DRIVER_DELAYS needs three numbers of seconds, e.g. 1,1,2")
        return cls(
            host=env.get("HOST", "127.0.0.1"),
            port=int(env.get("PORT", DEFAULT_PORT)),
            api_key=env.get("RIDE_PROVIDER_KEY") or DEFAULT_KEY,
            webhook_url=env.get("RIDE_PROVIDER_WEBHOOK_URL", DEFAULT_WEBHOOK_URL),
            webhook_secret=env.get("RIDE_PROVIDER_WEBHOOK_SECRET") or DEFAULT_WEBHOOK_SECRET,
            driver_delays=(delays[0], delays[1], delays[2]),
        )


def _seconds(text: str | None, name: str) -> tuple[float, ...]:
    if not text:
        return ()
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"{name} must be numbers of seconds separated by commas") from None
    if any(value < 0 for value in values):
        raise ValueError(f"{name} cannot be negative")
    return values
