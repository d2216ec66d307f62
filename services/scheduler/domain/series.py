"""An induction series: several treatments spread over a few weeks, placed all together or not at all."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from .clinic import Clinic, TreatmentType
from .errors import InvalidRequest, Refused
from .schedule import PatientRecord, Placement, Schedule, require_intake

ALTERNATIVES_PER_SESSION = 3
ALTERNATIVES_SEARCH_DAYS = 14


@dataclass(frozen=True)
class SeriesRequest:
    treatment_type: str
    first_starts_at: datetime
    count: int
    within_days: int


def plan_series(
    request: SeriesRequest, treatment: TreatmentType, *, schedule: Schedule, patient: PatientRecord
) -> list[Placement]:
    """Placements for every session, nearest to an even spread at the first session's weekday rhythm and time.

    At most one session a day. When one cannot be placed, nothing is booked: ``Refused`` carries the sessions
    that could be placed and, for each one that could not, the nearest starts after the window.
    """
    if request.count > request.within_days:
        raise InvalidRequest({"count": ["At most one session a day: the count cannot exceed within_days."]})
    schedule.check_start(treatment, request.first_starts_at, field="first_starts_at")
    require_intake(treatment, patient)
    clinic = schedule.clinic
    first_day = clinic.local_day(request.first_starts_at)
    window_days = [first_day + timedelta(days=offset) for offset in range(request.within_days)]
    preferred_time = request.first_starts_at.astimezone(clinic.time_zone).time()
    used_days: set[date] = set()
    placed: list[Placement] = []
    unplaced: list[date] = []
    for target in _even_spread(first_day, request.count, request.within_days):
        placement = _nearest_placement(schedule, treatment, patient, target, preferred_time, window_days, used_days)
        if placement is None:
            unplaced.append(target)
            continue
        schedule.hold(placement, patient)
        used_days.add(clinic.local_day(placement.starts_at))
        placed.append(placement)
    if unplaced:
        raise Refused(
            "series_not_placeable",
            f"Only {len(placed)} of the {request.count} sessions fit within {request.within_days} days; "
            "none was booked.",
            {
                "placed": placed,
                "unplaced": [
                    {
                        "preferred_starts_at": _at(clinic, target, preferred_time),
                        "alternatives": _alternatives_after(
                            schedule, treatment, patient, window_days[-1] + timedelta(days=1), preferred_time, used_days
                        ),
                    }
                    for target in unplaced
                ],
            },
        )
    return sorted(placed, key=lambda p: p.starts_at)


def _even_spread(first_day: date, count: int, within_days: int) -> list[date]:
    """Days 0, 3.5, 7, 10.5 ... rounded half up: two a week on the same two weekdays for 6 in 21 days."""
    return [first_day + timedelta(days=int(index * within_days / count + 0.5)) for index in range(count)]


def _nearest_placement(
    schedule: Schedule,
    treatment: TreatmentType,
    patient: PatientRecord,
    target: date,
    preferred_time: time,
    window_days: list[date],
    used_days: set[date],
) -> Placement | None:
    by_distance = sorted((d for d in window_days if d not in used_days), key=lambda d: (abs((d - target).days), d))
    for day in by_distance:
        options = _open_starts_on(schedule, treatment, patient, day)
        if options:
            return _closest_to(schedule.clinic, options, preferred_time)
    return None


def _alternatives_after(
    schedule: Schedule,
    treatment: TreatmentType,
    patient: PatientRecord,
    first_day: date,
    preferred_time: time,
    used_days: set[date],
) -> list[datetime]:
    found: list[datetime] = []
    for offset in range(ALTERNATIVES_SEARCH_DAYS):
        day = first_day + timedelta(days=offset)
        if day in used_days:
            continue
        options = _open_starts_on(schedule, treatment, patient, day)
        if options:
            found.append(_closest_to(schedule.clinic, options, preferred_time).starts_at)
        if len(found) == ALTERNATIVES_PER_SESSION:
            break
    return found


def _open_starts_on(schedule: Schedule, treatment: TreatmentType, patient: PatientRecord, day: date) -> list[Placement]:
    clinic = schedule.clinic
    starts = datetime.combine(day, time(0), tzinfo=clinic.time_zone).astimezone(UTC)
    ends = datetime.combine(day + timedelta(days=1), time(0), tzinfo=clinic.time_zone).astimezone(UTC)
    return schedule.open_starts(treatment, starts, ends, patient=patient)


def _closest_to(clinic: Clinic, options: list[Placement], preferred_time: time) -> Placement:
    def distance(placement: Placement) -> tuple[int, datetime]:
        wall = placement.starts_at.astimezone(clinic.time_zone)
        minutes = abs((wall.hour * 60 + wall.minute) - (preferred_time.hour * 60 + preferred_time.minute))
        return minutes, placement.starts_at

    return min(options, key=distance)


def _at(clinic: Clinic, day: date, wall: time) -> datetime:
    return datetime.combine(day, wall, tzinfo=clinic.time_zone).astimezone(UTC)
