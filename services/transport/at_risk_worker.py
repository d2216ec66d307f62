"""The at-risk worker: settles the at-risk checks whose time came. Its only state is the rows, so a restart (or a
second replica) picks up where it stopped; each check is settled once, in the same commit as its event."""

import logging
from collections.abc import Callable
from datetime import datetime

from shared.polling import PollingWorker

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


class AtRiskWorker(PollingWorker):
    def __init__(self, uow_factory: Callable, *, clock: Callable[[], datetime], poll_interval: float = 15.0):
        super().__init__(
            "at-risk worker",
            lambda: fire_due_checks(uow=uow_factory(), now=clock()),
            poll_interval=poll_interval,
            pause_after_failure=1,
        )
