"""The clinic as configured: its time zone, hours, chairs, clinicians and the treatments it gives."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import cached_property, lru_cache
from zoneinfo import ZoneInfo

# A session's treatment, recovery and turnover fit within a day; schedules look back no further for sessions.
LONGEST_BLOCK = timedelta(days=1)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class WeeklyHours:
    """Local opening (or working) hours, one tuple of (opens, closes) intervals per weekday, Monday first."""

    days: tuple[tuple[tuple[time, time], ...], ...]

    def on(self, day: date, zone: ZoneInfo) -> tuple[tuple[datetime, datetime], ...]:
        """The day's intervals as UTC instants; a wall time that a daylight-saving change skips moves forward."""
        return _intervals_on(self, day, zone)

    def covers(self, starts_at: datetime, ends_at: datetime, zone: ZoneInfo) -> bool:
        """True when one interval of the local day ``starts_at`` falls on holds the whole span."""
        day = starts_at.astimezone(zone).date()
        return any(opens <= starts_at and ends_at <= closes for opens, closes in self.on(day, zone))


END_OF_DAY = time.max  # "24:00": closing at midnight


@lru_cache(maxsize=65536)  # every slot list asks for each day of its window, for the clinic and each clinician
def _intervals_on(hours: WeeklyHours, day: date, zone: ZoneInfo) -> tuple[tuple[datetime, datetime], ...]:
    return tuple(
        (_instant(day, opens, zone), _closing(day, closes, zone)) for opens, closes in hours.days[day.weekday()]
    )


def _closing(day: date, wall: time, zone: ZoneInfo) -> datetime:
    if wall == END_OF_DAY:
        return _instant(day + timedelta(days=1), time(0), zone)
    return _instant(day, wall, zone)


def _instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    # fold=0 (PEP 495): a wall time the spring change skips moves forward by the gap; a repeated one is the first.
    return datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class Clinician:
    id: str
    name: str
    working_hours: WeeklyHours


class CheckpointMoment(StrEnum):
    """A checkpoint tied to a step of the session rather than to a time after the start."""

    BEFORE_TREATMENT = "before_treatment"  # must be done before treatment may start
    BEFORE_DISCHARGE = "before_discharge"  # due when the minimum monitoring ends; must be done before discharge


@dataclass(frozen=True)
class Checkpoint:
    """One monitoring step of a treatment (a blood pressure reading, say), due either at a ``moment`` of the session
    or ``minutes_after_start`` of treatment; exactly one of the two is set."""

    id: str
    label: str
    moment: CheckpointMoment | None = None
    minutes_after_start: int | None = None


@dataclass(frozen=True)
class TreatmentType:
    id: str
    label: str
    treatment_minutes: int
    recovery_minutes: int
    turnover_minutes: int = 0
    ride_home_required: bool = False
    intake_required: bool = False
    counts_as_intake: bool = False
    minimum_notice_minutes: int = 0
    booking_horizon_days: int = 366
    minimum_spacing_hours: int = 0
    # The clinical gates of the treatment day: monitoring steps, the monitoring a discharge waits for (after the
    # treatment ends; None: the recovery minutes) and how early treatment may start (None: the clinic's setting).
    checkpoints: tuple[Checkpoint, ...] = ()
    minimum_monitoring_minutes: int | None = None
    earliest_start_minutes_before: int | None = None

    @cached_property
    def minimum_monitoring(self) -> timedelta:
        """How long after the treatment ends a patient is monitored before discharge, at the least."""
        minutes = self.recovery_minutes if self.minimum_monitoring_minutes is None else self.minimum_monitoring_minutes
        return timedelta(minutes=minutes)

    def checkpoint(self, checkpoint_id: str) -> Checkpoint | None:
        return next((c for c in self.checkpoints if c.id == checkpoint_id), None)

    @cached_property
    def treatment(self) -> timedelta:
        """The clinician is busy for this long."""
        return timedelta(minutes=self.treatment_minutes)

    @cached_property
    def recovery(self) -> timedelta:
        return timedelta(minutes=self.recovery_minutes)

    @cached_property
    def in_chair(self) -> timedelta:
        """Treatment and recovery: the patient is in the chair, and the clinic must be open."""
        return self.treatment + self.recovery

    @cached_property
    def chair_hold(self) -> timedelta:
        """Treatment, recovery and the cleaning turnover: nobody else may use the chair."""
        return self.in_chair + timedelta(minutes=self.turnover_minutes)

    @cached_property
    def minimum_notice(self) -> timedelta:
        return timedelta(minutes=self.minimum_notice_minutes)

    @cached_property
    def booking_horizon(self) -> timedelta:
        return timedelta(days=self.booking_horizon_days)

    @cached_property
    def minimum_spacing(self) -> timedelta:
        return timedelta(hours=self.minimum_spacing_hours)


@dataclass(frozen=True)
class Clinic:
    name: str
    time_zone: ZoneInfo
    chairs: tuple[str, ...]
    treatment_types: dict[str, TreatmentType]
    opening_hours: WeeklyHours
    clinicians: tuple[Clinician, ...]
    slot_minutes: int = 15
    late_cancellation_hours: int = 24
    arrival_minutes_before: int = 15
    # Treatment may start at most this long before the booked start, unless a treatment type says otherwise.
    earliest_start_minutes_before: int = 30
    closed_on: frozenset[date] = frozenset()
    # Where patients are treated, and so where every ride home picks them up.
    address: str | None = None
    clinician_index: dict[str, Clinician] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "clinician_index", {c.id: c for c in self.clinicians})

    def treatment_type(self, type_id: str) -> TreatmentType | None:
        return self.treatment_types.get(type_id)

    def clinician(self, clinician_id: str) -> Clinician | None:
        return self.clinician_index.get(clinician_id)

    @property
    def slot(self) -> timedelta:
        return timedelta(minutes=self.slot_minutes)

    @property
    def arrival_lead(self) -> timedelta:
        """Patients arrive this long before treatment starts, to check in and settle."""
        return timedelta(minutes=self.arrival_minutes_before)

    def earliest_start_lead(self, treatment: TreatmentType | None) -> timedelta:
        """How long before its booked start a session of ``treatment`` may start."""
        minutes = treatment.earliest_start_minutes_before if treatment is not None else None
        return timedelta(minutes=self.earliest_start_minutes_before if minutes is None else minutes)

    @property
    def late_cancellation_window(self) -> timedelta:
        return timedelta(hours=self.late_cancellation_hours)

    def opening_on(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The day's opening hours as UTC instants; none on a closure day such as a public holiday."""
        return () if day in self.closed_on else self.opening_hours.on(day, self.time_zone)

    def local_day(self, instant: datetime) -> date:
        return instant.astimezone(self.time_zone).date()

    def local_days(self, first: datetime, last: datetime) -> list[date]:
        """The local days from the one ``first`` falls on to the one ``last`` falls on."""
        day, last_day = self.local_day(first), self.local_day(last)
        return [day + timedelta(days=offset) for offset in range((last_day - day).days + 1)]
