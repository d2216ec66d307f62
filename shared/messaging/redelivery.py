"""When an event whose handling failed for a passing reason is tried again, and when it is given up: pure rules.

A failure of something that comes back (a dependency's API, a database connection, a timeout) is not the event's
fault. The consumer tries a couple of times at once, then lets the event wait in its queue's retry queue for a
growing delay, round after round, until the window since its first failure has passed: only then is it poison.
The event's history travels with it in headers, so any replica can pick it up.
"""

from collections.abc import Mapping
from dataclasses import dataclass

RETRY_ROUNDS_HEADER = "x-retry-rounds"
FIRST_FAILED_AT_HEADER = "x-first-failed-at"
LAST_FAILURE_HEADER = "x-last-failure"


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 2  # tries in a row, while the message is held, before it waits in the retry queue
    initial_delay: float = 0.2
    max_delay: float = 1.0
    delays: tuple[float, ...] = (2.0, 10.0, 30.0, 60.0)  # seconds between rounds; the last one repeats
    window: float = 3600.0  # seconds from the first failure after which the event is dead-lettered

    def __post_init__(self):
        if self.attempts < 1 or not self.delays or min(self.delays) <= 0 or self.window <= 0:
            raise ValueError("a retry policy needs at least one attempt, positive delays and a positive window")

    def delay_before_next_round(self, history: "FailureHistory", now: float) -> float | None:
        """Seconds to wait before the next round, or None when the window has passed and the event is poison."""
        if now - history.first_failed_at >= self.window:
            return None
        return self.delays[min(history.rounds - 1, len(self.delays) - 1)]


@dataclass(frozen=True)
class FailureHistory:
    rounds: int  # rounds of attempts that failed, this one included
    first_failed_at: float  # seconds since the epoch

    @classmethod
    def after_failure(cls, headers: Mapping[str, object] | None, now: float) -> "FailureHistory":
        """The history of a message that has just failed again, read from the headers it came with."""
        headers = headers or {}
        rounds = _number(headers.get(RETRY_ROUNDS_HEADER), default=0)
        first = _number(headers.get(FIRST_FAILED_AT_HEADER), default=now)
        return cls(rounds=int(rounds) + 1, first_failed_at=min(float(first), now))

    def headers(self, failure: str) -> dict[str, object]:
        return {
            RETRY_ROUNDS_HEADER: self.rounds,
            FIRST_FAILED_AT_HEADER: self.first_failed_at,
            LAST_FAILURE_HEADER: failure,
        }


def _number(value: object, *, default: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return default
    return value
