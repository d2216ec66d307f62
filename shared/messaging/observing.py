"""What a consumer tells an observer (metrics), so that the messaging layer needs no metrics library."""

from typing import Literal, Protocol

Outcome = Literal["handled", "retried", "dead_lettered"]
UNKNOWN_TYPE = "unknown"  # a message whose type could not be read (not JSON, not the contract)


class ConsumerObserver(Protocol):
    def consumed(self, event_type: str, outcome: str, seconds: float) -> None:
        """One delivery settled: handled, sent to wait for a retry, or dead-lettered; ``seconds`` since delivery."""

    def failed(self, event_type: str) -> None:
        """One attempt of the handler raised (it may be tried again)."""
