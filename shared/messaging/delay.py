"""Calls made later, in a thread of their own: what stands in for a retry queue's TTL on the in-memory transport.

kombu's in-memory transport knows no TTL and no dead-lettering. Its events live in this one process anyway, so a
timer that sends the event back to its queue after the delay keeps the same behaviour (and loses the same: everything,
on a restart).
"""

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class InProcessDelay:
    def __init__(self, name: str):
        self._name = name
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def later(self, delay: float, call: Callable[[], None]) -> None:
        with self._condition:
            heapq.heappush(self._due, (time.monotonic() + delay, next(self._order), call))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"{self._name}-delay", daemon=True)
                self._thread.start()
            self._condition.notify()

    def waiting(self) -> int:
        with self._condition:
            return len(self._due)

    def stop(self) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify()

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._stopping and (not self._due or self._due[0][0] > time.monotonic()):
                    timeout = self._due[0][0] - time.monotonic() if self._due else None
                    self._condition.wait(timeout)
                if self._stopping:
                    return
                _, _, call = heapq.heappop(self._due)
            try:
                call()
            except Exception:
                log.exception("a delayed redelivery on %s failed", self._name)
