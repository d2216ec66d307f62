"""The queues' depth over the last minutes, for the ops page's small charts: a worker asks the queue inspector every
few seconds and keeps what it saw in memory, the oldest samples dropped past ``keep``.

The history lives as long as the process (a restart starts an empty chart); the page also reads the latest sample
from here, so that a refresh of the page does not ask the broker again and again. With the worker not running (a
test that serves the pages alone) a read that finds no fresh sample takes one itself.
"""

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from shared.persistence import utcnow
from shared.redaction import describe

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 5.0
KEEP = timedelta(minutes=15)


class Inspector(Protocol):
    """shared.messaging.inspection.QueueInspector: ``snapshot()`` gives a BrokerSnapshot."""

    def snapshot(self) -> Any: ...


class QueueHistory:
    def __init__(
        self,
        inspector: Inspector,
        *,
        interval: float = INTERVAL_SECONDS,
        keep: timedelta = KEEP,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self._inspector = inspector
        self.interval = interval
        self._keep = keep
        self._clock = clock
        self._monotonic = monotonic
        self._samples: deque[tuple[datetime, dict[str, int | None]]] = deque()
        self._latest: Any = None
        self._latest_at: float | None = None  # monotonic: freshness is a duration, whatever the wall clock does
        self._lock = threading.Lock()
        self._sampling = threading.Lock()
        self._stopping = threading.Event()

    def sample_once(self) -> Any:
        """Ask the inspector now and keep what it says (an unreachable broker adds a gap to the charts)."""
        with self._sampling:
            try:
                snapshot = self._inspector.snapshot()
            except Exception as exc:  # an inspector answers an outage with reachable=False; this is a bug's guard
                log.warning("the queue inspection failed: %s", describe(exc))
                raise
            now = self._clock()
            depths = {q.name: (q.ready if snapshot.reachable and q.exists else None) for q in snapshot.queues}
            with self._lock:
                self._samples.append((now, depths))
                while self._samples and self._samples[0][0] < now - self._keep:
                    self._samples.popleft()
                self._latest, self._latest_at = snapshot, self._monotonic()
            return snapshot

    def current(self) -> Any:
        """The latest snapshot if it is fresh (younger than two intervals), else one taken now."""
        with self._lock:
            latest, at = self._latest, self._latest_at
        if latest is not None and at is not None and self._monotonic() - at < 2 * self.interval:
            return latest
        return self.sample_once()

    def refresh(self) -> Any:
        """A snapshot taken now: after a replay or a discard the page shows what changed, not the last sample."""
        return self.sample_once()

    def depths(self, queue: str) -> list[tuple[datetime, int | None]]:
        """The queue's ready count at each sample kept, oldest first; None where it was unknown."""
        with self._lock:
            return [(at, depths.get(queue)) for at, depths in self._samples]

    @property
    def keep(self) -> timedelta:
        return self._keep

    def run_until_stopped(self) -> None:
        while not self._stopping.is_set():
            try:
                self.sample_once()
            except Exception:
                pass  # logged by sample_once; the next round tries again
            self._stopping.wait(self.interval)

    def stop(self) -> None:
        self._stopping.set()
