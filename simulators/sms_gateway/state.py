"""Everything the simulator knows, in memory: the texts it took, the idempotency keys it has seen, the faults.

One lock guards it all: waitress answers on several threads.
"""

import dataclasses
import secrets
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .faults import NONE, Faults


@dataclass
class Text:
    id: str
    to: str
    body: str
    idempotency_key: str
    fingerprint: str
    accepted_at: datetime
    status: str = "sent"
    delivered_at: datetime | None = field(default=None)

    def public(self) -> dict:
        """What the gateway's API answers: the text's id and status, never its number or words."""
        return {
            "id": self.id,
            "status": self.status,
            "accepted_at": self.accepted_at.isoformat(),
            "delivered_at": self.delivered_at.isoformat() if self.delivered_at else None,
        }


class SimulatorState:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.texts: dict[str, Text] = {}
        self.by_key: dict[str, str] = {}  # idempotency key -> text id
        self.key_uses: Counter[str] = Counter()
        self.faults: Faults = NONE

    def new_text_id(self) -> str:
        return f"sms_{secrets.token_hex(10)}"

    def set_faults(self, faults: Faults) -> None:
        with self.lock:
            self.faults = faults

    def fault_acted(self) -> None:
        """One more call was answered by the faults: those set to act a number of times clear when it is reached."""
        with self.lock:
            if self.faults.times is None:
                return
            remaining = self.faults.times - 1
            self.faults = NONE if remaining <= 0 else dataclasses.replace(self.faults, times=remaining)

    def reset(self) -> None:
        with self.lock:
            self.texts.clear()
            self.by_key.clear()
            self.key_uses.clear()
            self.faults = NONE

    def report(self) -> dict:
        with self.lock:
            return {
                "messages": [
                    {
                        **text.public(),
                        "to": text.to,
                        "body": text.body,
                        "idempotency_key": text.idempotency_key,
                        "key_uses": self.key_uses[text.idempotency_key],
                    }
                    for text in self.texts.values()
                ],
                "idempotency_keys": dict(self.key_uses),
            }


def now() -> datetime:
    return datetime.now(UTC)
