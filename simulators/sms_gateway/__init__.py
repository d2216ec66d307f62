"""A simulated SMS gateway: takes texts once per idempotency key, refuses numbers that are not E.164, and fails the
ways a real one does (5xx, slow answers, refused numbers, a text taken and then answered 503).

Run it with ``python -m simulators.sms_gateway``; in tests, ``start_simulator()`` on a free port.
"""

from .faults import Faults
from .server import SmsGatewaySimulator, start_simulator
from .settings import SimulatorSettings

__all__ = ["Faults", "SimulatorSettings", "SmsGatewaySimulator", "start_simulator"]
