"""The simulator as a running server: its HTTP API on waitress."""

import dataclasses

from shared.runtime import ServiceRuntime

from .app import create_app
from .settings import SimulatorSettings
from .state import SimulatorState

NAME = "sms-gateway-simulator"


class SmsGatewaySimulator:
    """A simulator not yet started (`start()`), or started: `url`, `state`, and `stop()`."""

    def __init__(self, settings: SimulatorSettings):
        self.settings = settings
        self.state = SimulatorState()
        self.runtime = ServiceRuntime(
            name=NAME, app=create_app(settings, self.state), host=settings.host, port=settings.port
        )

    @property
    def port(self) -> int:
        return self.runtime.port

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.runtime.port}"

    def start(self) -> "SmsGatewaySimulator":
        self.runtime.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.runtime.stop(timeout)


def start_simulator(settings: SimulatorSettings | None = None, **overrides) -> SmsGatewaySimulator:
    """A started simulator; `port=0` (with no settings given) picks a free port, read back from `.port`."""
    settings = settings or SimulatorSettings(port=0)
    return SmsGatewaySimulator(dataclasses.replace(settings, **overrides)).start()
