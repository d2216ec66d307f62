"""A simulated health-care ride provider: scheduled and will-call rides, a driver flow that moves on by itself,
signed webhooks, and the failures a real one has (slow answers, 5xx, refusals, repeated and reordered webhooks).

Run it with ``python -m simulators.ride_provider``; in tests, ``start_simulator(webhook_url=...)`` on a free port.
"""

from .faults import Faults
from .server import RideProviderSimulator, start_simulator
from .settings import SimulatorSettings

__all__ = ["Faults", "RideProviderSimulator", "SimulatorSettings", "start_simulator"]
