"""A worker that takes the rows its service's handlers wrote (provider requests, messages due, checks due): it works
a round, then waits for a nudge or its poll interval; a round that fails (the database away for a while) leaves the
rows where they are, and the next round, a little later, tries again."""

import logging
import threading
from collections.abc import Callable

from shared.redaction import describe

log = logging.getLogger(__name__)


class PollingWorker:
    def __init__(self, name: str, work_a_round: Callable[[], object], *, poll_interval: float, pause_after_failure=5):
        self._name = name
        self._work_a_round = work_a_round
        self._poll_interval = poll_interval
        self._pause = poll_interval * pause_after_failure
        self._wake = threading.Event()
        self._stopping = threading.Event()

    def notify(self) -> None:
        """Something is waiting now (a commit added rows): work a round without waiting for the poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def run_until_stopped(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                self._work_a_round()
            except Exception as exc:
                log.warning("%s paused: %s", self._name, describe(exc))
                self._stopping.wait(self._pause)
                continue
            self._wake.wait(self._poll_interval)
