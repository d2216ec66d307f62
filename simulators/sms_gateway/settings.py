"""The simulator's settings, read from the environment."""

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_PORT = 8005
DEFAULT_TOKEN = "dev-sms-gateway-token"


@dataclass(frozen=True)
class SimulatorSettings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    token: str = DEFAULT_TOKEN

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> "SimulatorSettings":
        env = os.environ if environ is None else environ
        return cls(
            host=env.get("HOST", "127.0.0.1"),
            port=int(env.get("PORT", DEFAULT_PORT)),
            token=env.get("SMS_GATEWAY_TOKEN") or DEFAULT_TOKEN,
        )
