"""The at-risk worker: settles the at-risk checks whose time came. Its only state is the rows, so a restart (or a
second replica) picks up where it stopped; each check is settled once, in the same commit as its event."""

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from shared.redaction import describe

from .domain.at_risk import check_due

log = logging.getLogger(__name__)


def fire_due_checks(*, uow, now: datetime) -> int:
    """Settle every due check; how many fired ``ride.at_risk``."""
    fired = 0
    with uow:
        for check in uow.at_risk_checks.due(now):
            events = check_due(uow.rides.get(check.ride_id), check, now=now)
            uow.at_risk_checks.save(check)
            uow.outbox.add(events)
            fired += len(events)
        uow.commit()
    if fired:
        log.info("%d ride(s) at risk", fired)
    return fired


class AtRiskWorker:
    def __init__(self, uow_factory: Callable, *, clock: Callable[[], datetime], poll_interval: float = 15.0):
        self._uow_factory = uow_factory
        self._clock = clock
        self._poll_interval = poll_interval
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def run_until_stopped(self) -> None:
        while not self._stopping.is_set():
            try:
                fire_due_checks(uow=self._uow_factory(), now=self._clock())
            except Exception as exc:  # the rows stay due; the next round tries again
                log.warning("at-risk worker paused: %s", describe(exc))
            self._stopping.wait(self._poll_interval)
