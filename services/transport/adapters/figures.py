"""The transport's business figure for ops: how many rides home are at risk right now.

At risk: a ride still to come that nobody confirmed (requested or declined) and that either passed one of its
at-risk thresholds (a check of its current round fired) or was declined. A count only: no patient data.
"""

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine, and_, exists, func, or_, select

from ..domain.at_risk import UNCONFIRMED
from ..domain.rides import RideStatus
from .tables import at_risk_checks, rides


class TransportFigures:
    def __init__(self, engine: Engine, clock: Callable[[], datetime]):
        self._engine = engine
        self._clock = clock

    def __call__(self) -> dict[str, int]:
        return {"rides_at_risk": self.rides_at_risk()}

    def rides_at_risk(self) -> int:
        fired = exists().where(
            and_(
                at_risk_checks.c.ride_id == rides.c.id,
                at_risk_checks.c.round == rides.c.round,
                at_risk_checks.c.fired.is_(True),
            )
        )
        query = (
            select(func.count())
            .select_from(rides)
            .where(
                rides.c.status.in_([status.value for status in UNCONFIRMED]),
                rides.c.pickup_at >= self._clock(),
                or_(rides.c.status == RideStatus.DECLINED.value, fired),
            )
        )
        with self._engine.connect().execution_options(read_only=True, postgresql_readonly=True) as connection:
            return int(connection.execute(query).scalar_one())
