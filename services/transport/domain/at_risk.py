"""Rides at risk: a ride still not confirmed at a threshold before its session starts must be looked after.

The schedule is data (one ``AtRiskCheck`` per threshold and round, stored with the ride) so that a restart loses
nothing; a worker asks ``check_due`` of each check whose time came.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.contract import RIDE_AT_RISK, Event

from .rides import Ride, RideStatus

# Not confirmed by the threshold: nobody said yes yet, or somebody said no and nothing replaced it.
UNCONFIRMED = frozenset({RideStatus.REQUESTED, RideStatus.DECLINED})
UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}


@dataclass(frozen=True)
class Threshold:
    label: str  # as it travels in ride.at_risk, e.g. "24h"
    before: timedelta


@dataclass
class AtRiskCheck:
    ride_id: str
    round: int
    threshold: str
    due_at: datetime
    checked_at: datetime | None = None
    fired: bool = False


def parse_thresholds(text: str) -> tuple[Threshold, ...]:
    """``"24h,2h"`` → thresholds, furthest first. Minutes (m), hours (h) and days (d)."""
    thresholds = []
    for part in (p.strip() for p in text.split(",")):
        match = re.fullmatch(r"([1-9][0-9]{0,3})([mhd])", part)
        if not match:
            raise ValueError(f"RIDE_AT_RISK_BEFORE: {part!r} is not a duration such as 24h, 90m or 2d")
        thresholds.append(Threshold(part, int(match[1]) * UNITS[match[2]]))
    if len({t.before for t in thresholds}) != len(thresholds):
        raise ValueError("RIDE_AT_RISK_BEFORE names the same duration twice")
    return tuple(sorted(thresholds, key=lambda t: t.before, reverse=True))


def arm(ride: Ride, thresholds: tuple[Threshold, ...], *, now: datetime) -> tuple[list[AtRiskCheck], list[Event]]:
    """The checks of the ride's current round. Thresholds already past are settled now: the nearest of them fires
    at once (the others would only repeat it in the same second)."""
    if ride.session_starts_at is None:
        return [], []
    checks = [AtRiskCheck(ride.id, ride.round, t.label, ride.session_starts_at - t.before) for t in thresholds]
    past = [c for c in checks if c.due_at <= now]
    events: list[Event] = []
    for check in past:
        check.checked_at = now
    if past and ride.status in UNCONFIRMED:
        nearest = max(past, key=lambda c: c.due_at)
        nearest.fired = True
        events.append(ride.event(RIDE_AT_RISK, at_risk=nearest.threshold))
    return checks, events


def check_due(ride: Ride | None, check: AtRiskCheck, *, now: datetime) -> list[Event]:
    """Settle a check whose time came: ``ride.at_risk`` if the ride of that round is still not confirmed."""
    check.checked_at = now
    if ride is None or ride.round != check.round or ride.status not in UNCONFIRMED:
        return []
    check.fired = True
    return [ride.event(RIDE_AT_RISK, at_risk=check.threshold)]
