"""``python -m simulators.sms_gateway``: the simulated SMS gateway, settings from the environment."""

import os

from shared.logging_setup import configure_logging
from shared.runtime import run_until_signalled

from .server import SmsGatewaySimulator
from .settings import SimulatorSettings

configure_logging(os.environ.get("LOG_LEVEL", "INFO"))
run_until_signalled(SmsGatewaySimulator(SimulatorSettings.from_environment()).runtime)
