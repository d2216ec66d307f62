"""Where one more session fits: the rules that both the slot list and every booking path ask.

A session holds its chair from the start of treatment to the end of the cleaning turnover, its clinician for
the treatment part, and its patient from the start of treatment to the end of recovery. ``Schedule.place``
answers for one start time; ``Schedule.open_starts`` asks ``place`` for every start on the clinic's grid,
so a listed start can be booked and an unlisted one cannot.
"""

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import accumulate, repeat
from typing import NamedTuple

from .clinic import Clinic, Clinician, TreatmentType
from .errors import InvalidRequest, Refused

MINUTE = timedelta(minutes=1)


class BookedBlock(NamedTuple):
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


class Occupancy(NamedTuple):
    """What a booked session holds of the clinic: its chair until the turnover ends, its clinician for the treatment.

    A ``BookedBlock`` has the same fields, so either may describe what is booked to a ``Schedule``.
    """

    session_id: str
    chair_id: str
    clinician_id: str | None
    starts_at: datetime
    treatment_ends_at: datetime
    chair_free_at: datetime


class Placement(NamedTuple):
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
    """The busy intervals of one chair or clinician, and the free gaps between them."""

    def __init__(self, intervals: Iterable[tuple[datetime, datetime]] = ()):
        self._intervals = sorted(intervals)
        self._reindex()

    def _reindex(self) -> None:
        self._starts = [start for start, _ in self._intervals]
        # A running maximum of the ends keeps the answer right even if stored intervals overlap each other.
        self._latest_end = list(accumulate((end for _, end in self._intervals), max))

    def gaps(self, starts_at: datetime, ends_at: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The free intervals within [starts_at, ends_at), in order."""
        index = bisect_left(self._starts, starts_at)
        free_from = starts_at if index == 0 else max(starts_at, self._latest_end[index - 1])
        while index < len(self._starts) and self._starts[index] < ends_at:
            if free_from < self._starts[index]:
                yield free_from, self._starts[index]
            free_from = max(free_from, self._intervals[index][1])
            index += 1
        if free_from < ends_at:
            yield free_from, ends_at

    def add(self, starts_at: datetime, ends_at: datetime) -> None:
        insort(self._intervals, (starts_at, ends_at))
        self._reindex()


class Schedule:
    """The chairs, clinicians and patients as booked, as seen at ``now``.

    ``place`` (one start) and ``open_starts`` (the slot list) both ask ``_outcomes``, which judges many starts at
    once: the free gaps of the clinic's hours, of each chair and of each clinician mark the starts they can hold,
    so a four-week list costs about as much as walking the bookings once.
    """

    def __init__(self, clinic: Clinic, blocks: Iterable[Occupancy | BookedBlock], *, now: datetime):
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
        self.check_start(treatment, starts_at)
        self._known_resources(chair_id, clinician_id)
        [outcome] = self._outcomes(treatment, [starts_at], patient, chair_id, clinician_id)
        if isinstance(outcome, Refused):
            raise outcome
        return outcome

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
        starts = self._grid(treatment, earliest, latest)
        if not starts:
            return []
        outcomes = self._outcomes(treatment, starts, patient, chair_id, clinician_id)
        return [outcome for outcome in outcomes if not isinstance(outcome, Refused)]

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
        """The local day of a start in the future, within the horizon, on the clinic's grid; else invalid ``field``."""
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

    def _outcomes(
        self,
        treatment: TreatmentType,
        starts: list[datetime],
        patient: PatientRecord | None,
        chair_id: str | None,
        clinician_id: str | None,
    ) -> list[Placement | Refused]:
        """For each of ``starts`` (sorted, future, on the grid, within the horizon): its placement, or the first
        rule that refuses it, asked in this order: the patient's rules, opening hours, notice, chair, clinician."""
        first, last = starts[0], starts[-1]
        days = self.clinic.local_days(first, last)
        opening = [(True, [hours for day in days for hours in self.clinic.opening_on(day)])]
        chairs = [
            (chair, self._chairs[chair].gaps(first, last + treatment.chair_hold))
            for chair in ((chair_id,) if chair_id is not None else self.clinic.chairs)
        ]
        clinicians = [
            (clinician, self._working_gaps(clinician, days)) for clinician in self._chosen_clinicians(clinician_id)
        ]
        open_for = _first_with_room(starts, opening, treatment.in_chair)
        chair_for = _first_with_room(starts, chairs, treatment.chair_hold)
        clinician_for = _first_with_room(starts, clinicians, treatment.treatment)
        refusals = _Refusals(treatment, chair_id, self.clinic.clinician(clinician_id) if clinician_id else None)
        intake_missing = patient is not None and _intake_refusal(treatment, patient)
        earliest = self.now + treatment.minimum_notice
        outcomes: list[Placement | Refused] = []
        for starts_at, is_open, chair, clinician in zip(starts, open_for, chair_for, clinician_for, strict=False):
            refused = intake_missing or (
                patient is not None and _patient_refusal(self.clinic, treatment, patient, starts_at)
            )
            if refused:
                outcomes.append(refused)
            elif is_open is None:
                outcomes.append(refusals.clinic_closed)
            elif starts_at < earliest:
                outcomes.append(refusals.short_notice)
            elif chair is None:
                outcomes.append(refusals.chair)
            elif clinician is None:
                outcomes.append(refusals.clinician)
            else:
                outcomes.append(
                    Placement(
                        treatment.id,
                        starts_at,
                        starts_at + treatment.treatment,
                        starts_at + treatment.in_chair,
                        starts_at + treatment.chair_hold,
                        chair,
                        clinician.id,
                    )
                )
        return outcomes

    def _chosen_clinicians(self, clinician_id: str | None) -> tuple[Clinician, ...]:
        if clinician_id is None:
            return self.clinic.clinicians
        chosen = self.clinic.clinician(clinician_id)
        return (chosen,) if chosen is not None else ()

    def _working_gaps(self, clinician: Clinician, days: list[date]) -> Iterator[tuple[datetime, datetime]]:
        """The clinician's free time within working hours on the given local days."""
        timeline = self._clinicians[clinician.id]
        for day in days:
            for starts, ends in clinician.working_hours.on(day, self.clinic.time_zone):
                yield from timeline.gaps(starts, ends)

    def _known_resources(self, chair_id: str | None, clinician_id: str | None) -> None:
        if chair_id is not None and chair_id not in self.clinic.chairs:
            raise InvalidRequest({"chair_id": [f"Unknown chair; the clinic has: {', '.join(self.clinic.chairs)}."]})
        if clinician_id is not None and self.clinic.clinician(clinician_id) is None:
            known = ", ".join(c.id for c in self.clinic.clinicians)
            raise InvalidRequest({"clinician_id": [f"Unknown clinician; the clinic has: {known}."]})

    def _grid(self, treatment: TreatmentType, earliest: datetime, latest: datetime) -> list[datetime]:
        """Grid starts in [earliest, latest), from opening time on in clinic time, whose treatment and recovery
        end by closing."""
        zone, slot, slot_minutes = self.clinic.time_zone, self.clinic.slot, self.clinic.slot_minutes
        starts: list[datetime] = []
        overlapping = False
        for day in self.clinic.local_days(earliest, latest):
            for opens, closes in self.clinic.opening_on(day):
                # A closing time that a spring-forward night skips moves forward (``WeeklyHours.on``) and may
                # overlap the next interval; the judgement over the starts needs each once, in order.
                overlapping = overlapping or bool(starts) and opens <= starts[-1]
                first, last = _first_on_grid(opens, zone, slot_minutes), closes - treatment.in_chair
                if opens.astimezone(zone).utcoffset() == closes.astimezone(zone).utcoffset():
                    starts.extend(first + slot * step for step in range((last - first) // slot + 1))
                    continue
                # The offset changes within these hours (a daylight-saving night at a clinic open through it):
                # stepping in UTC would leave the local grid after a shift of other than whole slots, and local
                # arithmetic loses which pass of a repeated hour it is in, so every minute is tried instead.
                candidate = opens
                while candidate <= last:
                    local = candidate.astimezone(zone)
                    if (local.hour * 60 + local.minute) % slot_minutes == 0:
                        starts.append(candidate)
                    candidate += MINUTE
        if overlapping:
            starts = sorted(set(starts))
        return starts[bisect_left(starts, earliest) : bisect_left(starts, latest)]


class _Refusals:
    """The refusals that do not depend on the start, written once per question."""

    def __init__(self, treatment: TreatmentType, chair_id: str | None, clinician: Clinician | None):
        self.clinic_closed = Refused(
            "clinic_closed",
            f"The clinic is closed for part of that session ({treatment.label}): "
            "treatment and recovery must both fall within opening hours.",
        )
        self.short_notice = Refused(
            "short_notice", f"{treatment.label} needs at least {_duration(treatment.minimum_notice)} notice."
        )
        if chair_id is not None:
            self.chair = Refused(
                "chair_unavailable", f"Chair {chair_id} is taken for part of that treatment, recovery and cleaning."
            )
        else:
            self.chair = Refused(
                "no_chair_available", "Every chair is taken for part of that treatment, recovery and cleaning."
            )
        if clinician is not None:
            self.clinician = Refused("clinician_unavailable", f"{clinician.name} is not free for that treatment.")
        else:
            self.clinician = Refused("no_clinician_available", "No clinician is working and free for that treatment.")


def _first_with_room(starts: list[datetime], holders: Sequence[tuple[object, Iterable]], duration: timedelta) -> list:
    """For each of the sorted ``starts``: the first holder (in the order given) with a free interval that holds
    ``duration`` from that start, or None. Each holder comes with its free intervals, in order."""
    first: list = [None] * len(starts)
    # Later holders are written first so that earlier ones overwrite them: the order given is the preference.
    for holder, free in reversed(holders):
        for free_from, free_until in free:
            lowest, beyond = bisect_left(starts, free_from), bisect_right(starts, free_until - duration)
            if lowest < beyond:
                first[lowest:beyond] = repeat(holder, beyond - lowest)
    return first


def require_intake(treatment: TreatmentType, patient: PatientRecord) -> None:
    refused = _intake_refusal(treatment, patient)
    if refused:
        raise refused


def _intake_refusal(treatment: TreatmentType, patient: PatientRecord) -> Refused | None:
    if treatment.intake_required and not patient.intake_completed:
        return Refused(
            "intake_required",
            f"{treatment.label} needs a completed intake assessment first: "
            "discharge the patient's intake session, or record an assessment done elsewhere.",
        )
    return None


def _patient_refusal(clinic: Clinic, treatment: TreatmentType, patient: PatientRecord, starts_at: datetime):
    """The patient's rule that refuses a session at ``starts_at`` (other than the intake), or None."""
    recovery_ends_at = starts_at + treatment.in_chair
    for block in patient.blocks:
        if block.starts_at < recovery_ends_at and starts_at < block.recovery_ends_at:
            return Refused("patient_overlap", "The patient already has a session at that time.")
    if not treatment.minimum_spacing:
        return None
    for block in patient.blocks:
        other = clinic.treatment_type(block.treatment_type)
        if other is None or not other.minimum_spacing:
            continue
        spacing = max(treatment.minimum_spacing, other.minimum_spacing)
        if abs(block.starts_at - starts_at) < spacing:
            return Refused(
                "patient_spacing",
                f"Two treatments of the same patient must start at least {_duration(spacing)} apart.",
            )
    return None


def _first_on_grid(opens: datetime, zone, slot_minutes: int) -> datetime:
    local = opens.astimezone(zone)
    aligned = local.replace(second=0, microsecond=0) - timedelta(
        minutes=(local.hour * 60 + local.minute) % slot_minutes
    )
    if aligned < local:
        aligned += timedelta(minutes=slot_minutes)
    return aligned.astimezone(opens.tzinfo)


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour" + ("s" if hours != 1 else "")
    return f"{minutes} minutes"
