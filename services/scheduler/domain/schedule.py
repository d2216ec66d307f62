"""Where one more session fits: the rules that both the slot list and every booking path ask.

A session holds its chair from the start of treatment to the end of the cleaning turnover, its clinician for
the treatment part, and its patient from the start of treatment to the end of recovery. ``Schedule.place``
answers for one start time; ``Schedule.open_starts`` asks ``place`` for every start on the clinic's grid,
so a listed start can be booked and an unlisted one cannot.
"""
from bisect import bisect_left, insort
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import accumulate
from typing import Iterable, Iterator

from .clinic import Clinic, Clinician, TreatmentType
from .errors import InvalidRequest, Refused


@dataclass(frozen=True)
class BookedBlock:
    """What an existing session occupies."""

    session_id: str
    patient_id: str
    treatment_type: str
    chair_id: str
    clinician_id: str | None
    starts_at: datetime
    treatment_ends_at: datetime
    recovery_ends_at: datetime
    chair_free_at: datetime


@dataclass(frozen=True)
class Placement:
    """A start time that every rule accepts, with the chair and clinician it would use."""

    treatment_type: str
    starts_at: datetime
    treatment_ends_at: datetime
    recovery_ends_at: datetime
    chair_free_at: datetime
    chair_id: str
    clinician_id: str


@dataclass
class PatientRecord:
    """What the patient rules need: whether intake is done, and the patient's sessions near the time asked for."""

    patient_id: str
    intake_completed: bool
    blocks: list[BookedBlock] = field(default_factory=list)


class Timeline:
    """The busy intervals of one chair or clinician, answering "is it free from a to b?" in O(log n)."""

    def __init__(self, intervals: Iterable[tuple[datetime, datetime]] = ()):
        self._intervals = sorted(intervals)
        self._reindex()

    def _reindex(self) -> None:
        self._starts = [start for start, _ in self._intervals]
        # A running maximum of the ends keeps the answer right even if stored intervals overlap each other.
        self._latest_end = list(accumulate((end for _, end in self._intervals), max))

    def is_free(self, starts_at: datetime, ends_at: datetime) -> bool:
        before_end = bisect_left(self._starts, ends_at)
        return before_end == 0 or self._latest_end[before_end - 1] <= starts_at

    def add(self, starts_at: datetime, ends_at: datetime) -> None:
        insort(self._intervals, (starts_at, ends_at))
        self._reindex()


class Schedule:
    """The chairs, clinicians and patients as booked, as seen at ``now``."""

    def __init__(self, clinic: Clinic, blocks: Iterable[BookedBlock], *, now: datetime):
        self.clinic = clinic
        self.now = now
        chair_busy: dict[str, list] = {chair: [] for chair in clinic.chairs}
        clinician_busy: dict[str, list] = {c.id: [] for c in clinic.clinicians}
        for block in blocks:
            chair_busy.setdefault(block.chair_id, []).append((block.starts_at, block.chair_free_at))
            if block.clinician_id is not None:
                clinician_busy.setdefault(block.clinician_id, []).append((block.starts_at, block.treatment_ends_at))
        self._chairs = {chair: Timeline(busy) for chair, busy in chair_busy.items()}
        self._clinicians = {clinician: Timeline(busy) for clinician, busy in clinician_busy.items()}
        self._opening_by_day: dict = {}
        self._working_by_day: dict = {}

    def place(
        self,
        treatment: TreatmentType,
        starts_at: datetime,
        *,
        patient: PatientRecord | None = None,
        chair_id: str | None = None,
        clinician_id: str | None = None,
    ) -> Placement:
        """The placement for a session starting at ``starts_at``, or the first rule that refuses it."""
        day = self.check_start(treatment, starts_at)
        treatment_ends_at = starts_at + treatment.treatment
        recovery_ends_at = starts_at + treatment.in_chair
        chair_free_at = starts_at + treatment.chair_hold
        if patient is not None:
            _check_patient(self.clinic, treatment, patient, starts_at, recovery_ends_at)
        if not self._clinic_open(day, starts_at, recovery_ends_at):
            raise Refused(
                "clinic_closed",
                f"The clinic is closed for part of that session ({treatment.label}): "
                "treatment and recovery must both fall within opening hours.",
            )
        if starts_at < self.now + treatment.minimum_notice:
            raise Refused(
                "short_notice",
                f"{treatment.label} needs at least {_duration(treatment.minimum_notice)} notice.",
            )
        chair = self._free_chair(starts_at, chair_free_at, chair_id)
        clinician = self._free_clinician(day, starts_at, treatment_ends_at, clinician_id)
        return Placement(treatment.id, starts_at, treatment_ends_at, recovery_ends_at, chair_free_at, chair, clinician.id)

    def open_starts(
        self,
        treatment: TreatmentType,
        window_from: datetime,
        window_to: datetime,
        *,
        patient: PatientRecord | None = None,
        chair_id: str | None = None,
        clinician_id: str | None = None,
    ) -> list[Placement]:
        """Every start in [window_from, window_to) that ``place`` accepts."""
        self._known_resources(chair_id, clinician_id)
        earliest = max(window_from, self.now + treatment.minimum_notice, self.now + timedelta(microseconds=1))
        latest = min(window_to, self.now + treatment.booking_horizon + timedelta(microseconds=1))
        placements = []
        for candidate in self._grid(treatment, earliest, latest):
            try:
                placements.append(
                    self.place(treatment, candidate, patient=patient, chair_id=chair_id, clinician_id=clinician_id)
                )
            except Refused:
                continue
        return placements

    def hold(self, placement: Placement, patient: PatientRecord | None = None) -> None:
        """Count a placement as booked, so that the next one (of a series) must fit around it."""
        self._chairs[placement.chair_id].add(placement.starts_at, placement.chair_free_at)
        self._clinicians[placement.clinician_id].add(placement.starts_at, placement.treatment_ends_at)
        if patient is not None:
            patient.blocks.append(
                BookedBlock(
                    session_id="",
                    patient_id=patient.patient_id,
                    treatment_type=placement.treatment_type,
                    chair_id=placement.chair_id,
                    clinician_id=placement.clinician_id,
                    starts_at=placement.starts_at,
                    treatment_ends_at=placement.treatment_ends_at,
                    recovery_ends_at=placement.recovery_ends_at,
                    chair_free_at=placement.chair_free_at,
                )
            )

    def check_start(self, treatment: TreatmentType, starts_at: datetime, field: str = "starts_at") -> date:
        """The local day of a start in the future, within the horizon, on the clinic's grid; else an invalid ``field``."""
        if starts_at <= self.now:
            raise InvalidRequest({field: ["Sessions can only be booked in the future."]})
        if starts_at > self.now + treatment.booking_horizon:
            raise InvalidRequest(
                {field: [f"{treatment.label} can be booked at most {treatment.booking_horizon_days} days ahead."]}
            )
        local = starts_at.astimezone(self.clinic.time_zone)
        if local.second or local.microsecond or (local.hour * 60 + local.minute) % self.clinic.slot_minutes:
            raise InvalidRequest(
                {field: [f"Sessions start on the clinic's {self.clinic.slot_minutes}-minute grid, in clinic time."]}
            )
        return local.date()

    def _clinic_open(self, day: date, starts_at: datetime, ends_at: datetime) -> bool:
        if day not in self._opening_by_day:
            self._opening_by_day[day] = self.clinic.opening_on(day)
        return any(opens <= starts_at and ends_at <= closes for opens, closes in self._opening_by_day[day])

    def _known_resources(self, chair_id: str | None, clinician_id: str | None) -> None:
        if chair_id is not None and chair_id not in self.clinic.chairs:
            raise InvalidRequest({"chair_id": [f"Unknown chair; the clinic has: {', '.join(self.clinic.chairs)}."]})
        if clinician_id is not None and self.clinic.clinician(clinician_id) is None:
            known = ", ".join(c.id for c in self.clinic.clinicians)
            raise InvalidRequest({"clinician_id": [f"Unknown clinician; the clinic has: {known}."]})

    def _free_chair(self, starts_at: datetime, chair_free_at: datetime, chair_id: str | None) -> str:
        if chair_id is not None:
            self._known_resources(chair_id, None)
            if self._chairs[chair_id].is_free(starts_at, chair_free_at):
                return chair_id
            raise Refused("chair_unavailable", f"Chair {chair_id} is taken for part of that treatment, recovery and cleaning.")
        for chair in self.clinic.chairs:
            if self._chairs[chair].is_free(starts_at, chair_free_at):
                return chair
        raise Refused("no_chair_available", "Every chair is taken for part of that treatment, recovery and cleaning.")

    def _free_clinician(
        self, day: date, starts_at: datetime, treatment_ends_at: datetime, clinician_id: str | None
    ) -> Clinician:
        if clinician_id is not None:
            self._known_resources(None, clinician_id)
            clinician = self.clinic.clinician(clinician_id)
            if self._clinician_free(clinician, day, starts_at, treatment_ends_at):
                return clinician
            raise Refused("clinician_unavailable", f"{clinician.name} is not free for that treatment.")
        for clinician in self.clinic.clinicians:
            if self._clinician_free(clinician, day, starts_at, treatment_ends_at):
                return clinician
        raise Refused("no_clinician_available", "No clinician is working and free for that treatment.")

    def _clinician_free(self, clinician: Clinician, day: date, starts_at: datetime, ends_at: datetime) -> bool:
        return self._working(clinician, day, starts_at, ends_at) and self._clinicians[clinician.id].is_free(
            starts_at, ends_at
        )

    def _working(self, clinician: Clinician, day: date, starts_at: datetime, ends_at: datetime) -> bool:
        key = (clinician.id, day)
        if key not in self._working_by_day:
            self._working_by_day[key] = clinician.working_hours.on(day, self.clinic.time_zone)
        return any(starts <= starts_at and ends_at <= ends for starts, ends in self._working_by_day[key])

    def _grid(self, treatment: TreatmentType, earliest: datetime, latest: datetime) -> Iterator[datetime]:
        """Grid starts from opening time on, in clinic time, whose treatment and recovery end by closing."""
        zone, slot = self.clinic.time_zone, self.clinic.slot
        day, last_day = self.clinic.local_day(earliest), self.clinic.local_day(latest)
        while day <= last_day:
            for opens, closes in self.clinic.opening_on(day):
                # Stepping in UTC keeps to the local grid unless the offset changes within the interval
                # by other than whole slots (a 30-minute shift); then each step is realigned to the local grid.
                realign = opens.astimezone(zone).utcoffset() != closes.astimezone(zone).utcoffset()
                candidate = _first_on_grid(opens, zone, self.clinic.slot_minutes)
                while candidate + treatment.in_chair <= closes:
                    if earliest <= candidate < latest:
                        yield candidate
                    following = candidate + slot
                    if realign:
                        following = max(_first_on_grid(following, zone, self.clinic.slot_minutes), following)
                    candidate = following
            day += timedelta(days=1)


def require_intake(treatment: TreatmentType, patient: PatientRecord) -> None:
    if treatment.intake_required and not patient.intake_completed:
        raise Refused(
            "intake_required",
            f"{treatment.label} needs a completed intake assessment first: "
            "discharge the patient's intake session, or record an assessment done elsewhere.",
        )


def _check_patient(
    clinic: Clinic, treatment: TreatmentType, patient: PatientRecord, starts_at: datetime, recovery_ends_at: datetime
) -> None:
    require_intake(treatment, patient)
    for block in patient.blocks:
        if block.starts_at < recovery_ends_at and starts_at < block.recovery_ends_at:
            raise Refused("patient_overlap", "The patient already has a session at that time.")
    if not treatment.minimum_spacing:
        return
    for block in patient.blocks:
        other = clinic.treatment_type(block.treatment_type)
        if other is None or not other.minimum_spacing:
            continue
        spacing = max(treatment.minimum_spacing, other.minimum_spacing)
        if abs(block.starts_at - starts_at) < spacing:
            raise Refused(
                "patient_spacing",
                f"Two treatments of the same patient must start at least {_duration(spacing)} apart.",
            )


def _first_on_grid(opens: datetime, zone, slot_minutes: int) -> datetime:
    local = opens.astimezone(zone)
    aligned = local.replace(second=0, microsecond=0) - timedelta(minutes=(local.hour * 60 + local.minute) % slot_minutes)
    if aligned < local:
        aligned += timedelta(minutes=slot_minutes)
    return aligned.astimezone(opens.tzinfo)


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour" + ("s" if hours != 1 else "")
    return f"{minutes} minutes"
