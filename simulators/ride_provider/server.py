"""The simulator as a running server: its HTTP API on waitress, its driver flow and webhook sender as workers."""

import dataclasses

from shared.runtime import ServiceRuntime

from .app import create_app
from .driver_flow import DriverFlow
from .settings import SimulatorSettings
from .state import SimulatorState
from .webhooks import WebhookSender

NAME = "ride-provider-simulator"


class RideProviderSimulator:
    """A simulator not yet started (`start()`), or started: `url`, `state`, and `stop()`."""

    def __init__(self, settings: SimulatorSettings):
        self.settings = settings
        self.state = SimulatorState()
        self.webhooks = WebhookSender(
            self.state, settings.webhook_url, settings.webhook_secret, settings.webhook_retry_delays
        )
        self.driver_flow = DriverFlow(self.state, self.webhooks, settings.driver_delays)
        self.runtime = ServiceRuntime(
            name=NAME,
            app=create_app(settings, self.state, self.driver_flow, self.webhooks),
            host=settings.host,
            port=settings.port,
            workers=[self.driver_flow, self.webhooks],
        )

    @property
    def port(self) -> int:
        return self.runtime.port

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.runtime.port}"

    def start(self) -> "RideProviderSimulator":
        self.runtime.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.runtime.stop(timeout)


def start_simulator(settings: SimulatorSettings | None = None, **overrides) -> RideProviderSimulator:
    """A started simulator; `port=0` (with no settings given) picks a free port, read back from `.port`."""
    settings = settings or SimulatorSettings(port=0)
    return RideProviderSimulator(dataclasses.replace(settings, **overrides)).start()
