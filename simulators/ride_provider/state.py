"""Everything the simulator knows, in memory: rides, the idempotency keys it has seen, faults, webhooks sent.

One lock guards it all: the HTTP threads, the driver flow and the webhook sender all read and change it.
"""

import secrets
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .faults import NONE, Faults


@dataclass
class Ride:
    id: str
    reference: str
    status: str
    pickup_at: datetime
    pickup_address: str
    dropoff_address: str
    will_call: bool
    booked_at: datetime
    keys: list[str] = field(default_factory=list)

    def public(self) -> dict:
        return {
            "id": self.id,
            "reference": self.reference,
            "status": self.status,
            "pickup_at": self.pickup_at.isoformat(),
        }


@dataclass(frozen=True)
class KeyRecord:
    fingerprint: str
    ride_id: str


class SimulatorState:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.rides: dict[str, Ride] = {}
        self.keys: dict[str, KeyRecord] = {}
        self.key_uses: Counter[str] = Counter()
        self.faults: Faults = NONE
        self.webhooks: list[dict] = []

    def new_ride_id(self) -> str:
        return f"pr_{secrets.token_hex(10)}"

    def set_faults(self, faults: Faults) -> None:
        with self.lock:
            self.faults = faults

    def fault_acted(self) -> None:
        """One more call was answered by the faults: those set to act a number of times clear when it is reached."""
        with self.lock:
            if self.faults.times is None:
                return
            remaining = self.faults.times - 1
            self.faults = NONE if remaining <= 0 else Faults(**{**self.faults.as_json(), "times": remaining})

    def reset(self) -> None:
        with self.lock:
            self.rides.clear()
            self.keys.clear()
            self.key_uses.clear()
            self.faults = NONE
            self.webhooks.clear()

    def rides_report(self) -> dict:
        with self.lock:
            return {
                "rides": [
                    {
                        **ride.public(),
                        "will_call": ride.will_call,
                        "pickup_address": ride.pickup_address,
                        "dropoff_address": ride.dropoff_address,
                        "booked_at": ride.booked_at.isoformat(),
                        "idempotency_keys": {key: self.key_uses[key] for key in ride.keys},
                    }
                    for ride in self.rides.values()
                ],
                "idempotency_keys": dict(self.key_uses),
            }


def now() -> datetime:
    return datetime.now(UTC)
