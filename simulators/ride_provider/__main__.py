"""``python -m simulators.ride_provider``: the simulated ride provider, settings from the environment."""

import os

from shared.logging_setup import configure_logging
from shared.runtime import run_until_signalled

from .server import RideProviderSimulator
from .settings import SimulatorSettings

configure_logging(os.environ.get("LOG_LEVEL", "INFO"))
run_until_signalled(RideProviderSimulator(SimulatorSettings.from_environment()).runtime)
