"""Treatment sessions, their lifecycle, and the events each step causes.

A session is a treatment followed by a recovery buffer in the same chair, then a cleaning turnover.
Every step checks ``TRANSITIONS``: a step that is not listed for the session's status is refused.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from shared.contract import (
    SESSION_BOOKED,
    SESSION_CANCELLED,
    SESSION_CHECKED_IN,
    SESSION_DISCHARGED,
    SESSION_NO_SHOW,
    SESSION_RESCHEDULED,
    SESSION_TREATMENT_STARTED,
    Event,
    new_event,
)

from .checkpoints import (
    DUE_WINDOW,
    CheckpointMark,
    CheckpointState,
    checkpoint_states,
    due_at,
    labels,
    monitoring_ends_at,
    open_checkpoints,
)
from .clinic import Checkpoint, CheckpointMoment, Clinic, TreatmentType
from .errors import InvalidRequest, NotFound, Refused
from .rides import CONFIRMED_STATUSES, RideReport, RideStatus, ride_status_after
from .schedule import BookedBlock, Occupancy, Placement


class SessionStatus(StrEnum):
    BOOKED = "booked"
    CHECKED_IN = "checked_in"
    IN_TREATMENT = "in_treatment"
    DISCHARGED = "discharged"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


class Step(StrEnum):
    RESCHEDULE = "reschedule"
    CANCEL = "cancel"
    CHECK_IN = "check_in"
    START_TREATMENT = "start_treatment"
    DISCHARGE = "discharge"
    RECORD_NO_SHOW = "record_no_show"


TRANSITIONS: dict[SessionStatus, dict[Step, SessionStatus]] = {
    SessionStatus.BOOKED: {
        Step.RESCHEDULE: SessionStatus.BOOKED,
        Step.CANCEL: SessionStatus.CANCELLED,
        Step.CHECK_IN: SessionStatus.CHECKED_IN,
        Step.RECORD_NO_SHOW: SessionStatus.NO_SHOW,
    },
    # A patient who arrives but cannot be treated (no ride home, a heavy meal) is sent home: a cancellation.
    SessionStatus.CHECKED_IN: {
        Step.START_TREATMENT: SessionStatus.IN_TREATMENT,
        Step.CANCEL: SessionStatus.CANCELLED,
    },
    SessionStatus.IN_TREATMENT: {Step.DISCHARGE: SessionStatus.DISCHARGED},
    SessionStatus.DISCHARGED: {},
    SessionStatus.CANCELLED: {},
    SessionStatus.NO_SHOW: {},
}

# Sessions in these states keep their chair, clinician and patient time; the others gave it back.
HOLDING_STATUSES = frozenset(
    {SessionStatus.BOOKED, SessionStatus.CHECKED_IN, SessionStatus.IN_TREATMENT, SessionStatus.DISCHARGED}
)


class CancelReason(StrEnum):
    PATIENT_REQUEST = "patient_request"
    PATIENT_UNWELL = "patient_unwell"
    NO_RIDE_HOME = "no_ride_home"
    NOT_PREPARED = "not_prepared"
    CLINIC_REQUEST = "clinic_request"
    OTHER = "other"


class RideHomeMode(StrEnum):
    ESCORT = "escort"  # a relative or friend drives the patient home
    PROVIDER = "provider"  # the clinic books a health-care ride service
    NONE = "none"


@dataclass(frozen=True)
class RideHome:
    """How the patient gets home. The escort's name and phone and the drop-off address are patient data: they stay in
    the scheduler, and transport asks for them over the API when it needs them."""

    mode: RideHomeMode
    escort_name: str | None = None
    escort_phone: str | None = None
    dropoff_address: str | None = None


NO_RIDE = RideHome(RideHomeMode.NONE)


@dataclass(frozen=True)
class BookingRequest:
    session_id: str
    patient_id: str
    treatment_type: str
    starts_at: datetime
    ride_home: RideHome
    chair_id: str | None = None
    clinician_id: str | None = None
    series_id: str | None = None


@dataclass
class Session:
    id: str
    patient_id: str
    treatment_type: str
    chair_id: str
    clinician_id: str | None
    starts_at: datetime
    treatment_ends_at: datetime
    recovery_ends_at: datetime
    chair_free_at: datetime
    ride_home: RideHome
    status: SessionStatus
    created_at: datetime
    series_id: str | None = None
    checked_in_at: datetime | None = None
    treatment_started_at: datetime | None = None
    discharged_at: datetime | None = None
    no_show_recorded_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: CancelReason | None = None
    cancel_note: str | None = None
    late_cancellation: bool | None = None
    # The latest ride status transport reported, and when that happened; None until a ride is reported.
    ride_status: RideStatus | None = None
    ride_status_at: datetime | None = None
    check_in_override_reason: str | None = None
    # The start as booked, kept when the actual start of treatment moves the session's times.
    booked_starts_at: datetime | None = None
    # Why treatment started with a checkpoint before it open, or the patient left before monitoring was complete.
    start_override_reason: str | None = None
    discharge_override_reason: str | None = None

    @property
    def block(self) -> BookedBlock:
        return BookedBlock(
            session_id=self.id,
            patient_id=self.patient_id,
            treatment_type=self.treatment_type,
            chair_id=self.chair_id,
            clinician_id=self.clinician_id,
            starts_at=self.starts_at,
            treatment_ends_at=self.treatment_ends_at,
            recovery_ends_at=self.recovery_ends_at,
            chair_free_at=self.chair_free_at,
        )

    def allows(self, step: Step) -> bool:
        return step in TRANSITIONS[self.status]

    def require(self, step: Step) -> None:
        """Refuse a step that the transition table does not list for the session's status."""
        if not self.allows(step):
            allowed = ", ".join(s.value for s in TRANSITIONS[self.status]) or "nothing"
            raise Refused(
                "transition_not_allowed",
                f"A {self.status.value.replace('_', ' ')} session cannot {step.value.replace('_', ' ')}; "
                f"it allows: {allowed}.",
            )

    def _advance(self, step: Step) -> None:
        self.require(step)
        self.status = TRANSITIONS[self.status][step]

    def reschedule(self, placement: Placement) -> list[Event]:
        self._advance(Step.RESCHEDULE)
        previous_starts_at, previous_recovery_ends_at = self.starts_at, self.recovery_ends_at
        self.starts_at = placement.starts_at
        self.treatment_ends_at = placement.treatment_ends_at
        self.recovery_ends_at = placement.recovery_ends_at
        self.chair_free_at = placement.chair_free_at
        self.chair_id = placement.chair_id
        self.clinician_id = placement.clinician_id
        return [
            self._event(
                SESSION_RESCHEDULED,
                previous_starts_at=previous_starts_at,
                previous_recovery_ends_at=previous_recovery_ends_at,
                starts_at=self.starts_at,
                treatment_ends_at=self.treatment_ends_at,
                recovery_ends_at=self.recovery_ends_at,
                chair_id=self.chair_id,
                clinician_id=self.clinician_id,
                ride_home_mode=self.ride_home.mode.value,
            )
        ]

    def cancel(self, *, reason: CancelReason, note: str | None, clinic: Clinic, now: datetime) -> list[Event]:
        """Cancel, and say whether it came inside the clinic's late-cancellation window."""
        self._advance(Step.CANCEL)
        self.cancelled_at = now
        self.cancel_reason = reason
        self.cancel_note = note
        self.late_cancellation = self.starts_at - now < clinic.late_cancellation_window
        # The note may name people; only the reason code travels.
        return [
            self._event(
                SESSION_CANCELLED, reason=reason.value, cancelled_at=now, late_cancellation=self.late_cancellation
            )
        ]

    def check_in(self, *, clinic: Clinic, now: datetime, override_reason: str | None = None) -> list[Event]:
        """The patient arrived. Nobody may drive after treatment: while a ride home is needed and not confirmed, only
        staff who give ``override_reason`` (a ride arranged by phone, say) may check the patient in, and it is kept."""
        if self.status is SessionStatus.BOOKED and clinic.local_day(now) != clinic.local_day(self.starts_at):
            raise Refused("not_session_day", "A patient can be checked in only on the day of the session.")
        self.require(Step.CHECK_IN)
        if self.needs_ride_home(clinic) and not self.ride_confirmed:
            if override_reason is None:
                reported = self.ride_status.value.replace("_", " ") if self.ride_status else "not reported yet"
                raise Refused(
                    "ride_not_confirmed",
                    f"The ride home is not confirmed (its status: {reported}); confirm it first, or give an "
                    "override_reason to check the patient in anyway.",
                )
            self.check_in_override_reason = override_reason
        self._advance(Step.CHECK_IN)
        self.checked_in_at = now
        return [self._event(SESSION_CHECKED_IN, checked_in_at=now)]

    def needs_ride_home(self, clinic: Clinic) -> bool:
        treatment = clinic.treatment_type(self.treatment_type)
        required = treatment is not None and treatment.ride_home_required
        return required or self.ride_home.mode is not RideHomeMode.NONE

    @property
    def ride_confirmed(self) -> bool:
        return self.ride_status in CONFIRMED_STATUSES

    def record_ride(self, report: RideReport) -> bool:
        """Keep the ride status ``report`` gives, unless an event newer than it was applied; True when it changed."""
        status = ride_status_after(self.ride_status, self.ride_status_at, report)
        if status is None:
            return False
        self.ride_status = status
        self.ride_status_at = report.occurred_at
        return True

    def start_treatment(
        self,
        *,
        clinic: Clinic,
        now: datetime,
        checkpoints_done: Mapping[str, CheckpointMark],
        others: Iterable[Occupancy | BookedBlock] = (),
        override_reason: str | None = None,
    ) -> list[Event]:
        """Treatment starts at ``now``: after check-in (the table), at most the clinic's lead before the booked start,
        with every checkpoint before treatment done (or ``override_reason``, which is kept). The session's times move
        with the actual start (treatment, recovery, the pickup, the chair's turnover) as long as the chair and the
        clinician are free for the moved times among ``others``, what the other sessions hold."""
        self.require(Step.START_TREATMENT)
        treatment = clinic.treatment_type(self.treatment_type)
        earliest = self.starts_at - clinic.earliest_start_lead(treatment)
        if now < earliest:
            lead = int(clinic.earliest_start_lead(treatment).total_seconds() // 60)
            raise Refused(
                "too_early_to_start",
                f"Treatment may start at most {lead} minutes before the booked start "
                f"({_local(self.starts_at, clinic)}): from {_local(earliest, clinic)}.",
            )
        still_open = open_checkpoints(treatment, checkpoints_done, CheckpointMoment.BEFORE_TREATMENT)
        if still_open and override_reason is None:
            raise Refused(
                "checkpoint_open",
                f"Still open before treatment: {labels(still_open)}. Mark it done first, or give an override_reason "
                "to start anyway.",
            )
        moved = self._moved_to(now)
        _require_free(self, moved, others, clinic)
        self._advance(Step.START_TREATMENT)
        if still_open:
            self.start_override_reason = override_reason
        self.booked_starts_at = self.starts_at
        self.starts_at, self.treatment_ends_at, self.recovery_ends_at, self.chair_free_at = moved
        self.treatment_started_at = now
        return [
            self._event(
                SESSION_TREATMENT_STARTED,
                treatment_started_at=now,
                treatment_ends_at=self.treatment_ends_at,
                recovery_ends_at=self.recovery_ends_at,
                chair_free_at=self.chair_free_at,
            )
        ]

    def _moved_to(self, starts_at: datetime) -> tuple[datetime, datetime, datetime, datetime]:
        """The session's start, treatment end, recovery end and chair release, were it to start at ``starts_at``: the
        spans it was booked with, from then."""
        return (
            starts_at,
            starts_at + (self.treatment_ends_at - self.starts_at),
            starts_at + (self.recovery_ends_at - self.starts_at),
            starts_at + (self.chair_free_at - self.starts_at),
        )

    def earliest_discharge(self, clinic: Clinic) -> datetime:
        """When the treatment type's minimum monitoring after the treatment's end is over."""
        return monitoring_ends_at(self, clinic.treatment_type(self.treatment_type))

    def checkpoint_states(
        self, clinic: Clinic, done: Mapping[str, CheckpointMark], *, now: datetime
    ) -> list[CheckpointState]:
        """The treatment's checkpoints for this session and where each stands at ``now``."""
        ended = self.status in (SessionStatus.DISCHARGED, SessionStatus.CANCELLED, SessionStatus.NO_SHOW)
        return checkpoint_states(self, clinic.treatment_type(self.treatment_type), done, now=now, ended=ended)

    def mark_checkpoint(
        self, checkpoint_id: str, *, clinic: Clinic, done: Mapping[str, CheckpointMark], by: str, now: datetime
    ) -> CheckpointMark:
        """A clinician did a checkpoint at ``now``: one before treatment while the patient is checked in, the others
        during treatment and monitoring, none earlier than ``DUE_WINDOW`` before it is due, and each once."""
        treatment = clinic.treatment_type(self.treatment_type)
        checkpoint = treatment.checkpoint(checkpoint_id) if treatment is not None else None
        if checkpoint is None:
            raise NotFound("checkpoint", checkpoint_id)
        if checkpoint_id in done:
            raise Refused("checkpoint_already_done", f"{checkpoint.label} is already marked done.")
        if checkpoint.moment is CheckpointMoment.BEFORE_TREATMENT:
            if self.status is not SessionStatus.CHECKED_IN:
                raise Refused(
                    "checkpoint_not_now",
                    f"{checkpoint.label} is marked once the patient is checked in, before treatment starts; "
                    f"the session is {self.status.value.replace('_', ' ')}.",
                )
        elif self.status is not SessionStatus.IN_TREATMENT:
            raise Refused(
                "checkpoint_not_now",
                f"{checkpoint.label} is marked during treatment and monitoring; "
                f"the session is {self.status.value.replace('_', ' ')}.",
            )
        else:
            self._require_due(checkpoint, treatment, clinic, now)
        return CheckpointMark(self.id, checkpoint_id, now, by)

    def _require_due(self, checkpoint: Checkpoint, treatment: TreatmentType | None, clinic: Clinic, now: datetime):
        due = due_at(checkpoint, self, treatment)
        if now < due - DUE_WINDOW:
            window = int(DUE_WINDOW.total_seconds() // 60)
            raise Refused(
                "checkpoint_not_due",
                f"{checkpoint.label} is due at {_local(due, clinic)}; it can be marked done from {window} minutes "
                "before.",
            )

    def discharge(
        self,
        *,
        at: datetime,
        now: datetime,
        clinic: Clinic,
        checkpoints_done: Mapping[str, CheckpointMark],
        override_reason: str | None = None,
    ) -> list[Event]:
        """The clinician releases the patient at ``at``, earlier or later than planned; the ride home follows it. Not
        before the treatment type's minimum monitoring after the treatment is over, nor with a checkpoint of the
        treatment open, unless a clinician gives ``override_reason`` (kept with the session, never in the event)."""
        if self.status is SessionStatus.IN_TREATMENT:
            if at > now:
                raise InvalidRequest({"discharged_at": ["A discharge is recorded when it happens, not ahead of time."]})
            if self.treatment_started_at is not None and at < self.treatment_started_at:
                raise InvalidRequest({"discharged_at": ["A patient cannot be discharged before treatment started."]})
        self.require(Step.DISCHARGE)
        refusal = self._discharge_refusal(at, clinic, checkpoints_done)
        if refusal is not None:
            if override_reason is None:
                raise refusal
            self.discharge_override_reason = override_reason
        self._advance(Step.DISCHARGE)
        self.discharged_at = at
        # A patient who leaves early gives the chair back early: its turnover follows the discharge.
        self.chair_free_at = min(self.chair_free_at, at + (self.chair_free_at - self.recovery_ends_at))
        return [
            self._event(
                SESSION_DISCHARGED,
                discharged_at=at,
                planned_recovery_ends_at=self.recovery_ends_at,
                ride_home_mode=self.ride_home.mode.value,
            )
        ]

    def _discharge_refusal(self, at: datetime, clinic: Clinic, done: Mapping[str, CheckpointMark]) -> Refused | None:
        treatment = clinic.treatment_type(self.treatment_type)
        # A checkpoint before treatment was the start's gate: once treatment started it can no longer be done.
        still_open = [c for c in open_checkpoints(treatment, done) if c.moment is not CheckpointMoment.BEFORE_TREATMENT]
        open_part = f"Still open: {labels(still_open)}. " if still_open else ""
        override = "Give an override_reason to discharge anyway."
        earliest = monitoring_ends_at(self, treatment)
        # A treatment with no monitoring after it (an intake assessment) ends when the clinician says so.
        monitored = treatment is None or treatment.minimum_monitoring > timedelta(0)
        if monitored and at < earliest:
            monitoring = _minutes(earliest - self.treatment_ends_at)
            return Refused(
                "monitoring_not_complete",
                f"Monitoring lasts at least {monitoring} after the treatment ends: the patient may leave from "
                f"{_local(earliest, clinic)}. {open_part}{override}",
            )
        if still_open:
            return Refused(
                "checkpoint_open", f"{open_part}Mark each done first, or give an override_reason to discharge anyway."
            )
        return None

    def record_no_show(self, *, now: datetime) -> list[Event]:
        if self.status is SessionStatus.BOOKED and now < self.starts_at:
            raise Refused("not_started_yet", "A no-show can be recorded only once the session's start time has passed.")
        self._advance(Step.RECORD_NO_SHOW)
        self.no_show_recorded_at = now
        return [self._event(SESSION_NO_SHOW, starts_at=self.starts_at, recorded_at=now)]

    def _event(self, event_type, **data) -> Event:
        return new_event(
            event_type, {"session_id": self.id, "patient_id": self.patient_id, **data}, correlation_id=self.id
        )


def _require_free(
    session: Session,
    moved: tuple[datetime, datetime, datetime, datetime],
    others: Iterable[Occupancy | BookedBlock],
    clinic: Clinic,
) -> None:
    """Refuse a start whose moved times take the chair (until its turnover ends) or the clinician (for the treatment)
    from another session: the holds a ``Schedule`` counts, of every other session."""
    starts_at, treatment_ends_at, _, chair_free_at = moved
    for other in others:
        if other.session_id == session.id:
            continue
        if other.chair_id == session.chair_id and other.starts_at < chair_free_at and starts_at < other.chair_free_at:
            raise Refused(
                "chair_busy_if_started_now",
                f"Started now, this session would hold {session.chair_id} (treatment, recovery and cleaning) until "
                f"{_local(chair_free_at, clinic)}, but another session holds it from {_local(other.starts_at, clinic)} "
                f"to {_local(other.chair_free_at, clinic)}.",
            )
        if (
            session.clinician_id is not None
            and other.clinician_id == session.clinician_id
            and other.starts_at < treatment_ends_at
            and starts_at < other.treatment_ends_at
        ):
            clinician = clinic.clinician(session.clinician_id)
            name = clinician.name if clinician is not None else session.clinician_id
            raise Refused(
                "clinician_busy_if_started_now",
                f"Started now, the treatment would need {name} until {_local(treatment_ends_at, clinic)}, but they "
                f"treat another patient from {_local(other.starts_at, clinic)} to "
                f"{_local(other.treatment_ends_at, clinic)}.",
            )


def _local(instant: datetime, clinic: Clinic) -> str:
    return f"{instant.astimezone(clinic.time_zone):%H:%M}"


def _minutes(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes and minutes % 60 == 0:
        return f"{minutes // 60} hour" + ("s" if minutes != 60 else "")
    return f"{minutes} minutes"


def book(
    request: BookingRequest, placement: Placement, *, clinic: Clinic, now: datetime
) -> tuple[Session, list[Event]]:
    """A new session in the placement the schedule found for it."""
    treatment = treatment_type_of(clinic, request.treatment_type)
    session = Session(
        id=request.session_id,
        patient_id=request.patient_id,
        treatment_type=treatment.id,
        chair_id=placement.chair_id,
        clinician_id=placement.clinician_id,
        starts_at=placement.starts_at,
        treatment_ends_at=placement.treatment_ends_at,
        recovery_ends_at=placement.recovery_ends_at,
        chair_free_at=placement.chair_free_at,
        ride_home=ride_home_for(treatment, request.ride_home),
        status=SessionStatus.BOOKED,
        created_at=now,
        series_id=request.series_id,
    )
    return session, [
        session._event(
            SESSION_BOOKED,
            treatment_type=session.treatment_type,
            starts_at=session.starts_at,
            treatment_ends_at=session.treatment_ends_at,
            recovery_ends_at=session.recovery_ends_at,
            chair_id=session.chair_id,
            clinician_id=session.clinician_id,
            series_id=session.series_id,
            ride_home_mode=session.ride_home.mode.value,
        )
    ]


def treatment_type_of(clinic: Clinic, type_id: str) -> TreatmentType:
    treatment = clinic.treatment_type(type_id)
    if treatment is None:
        known = ", ".join(sorted(clinic.treatment_types))
        raise InvalidRequest({"treatment_type": [f"Unknown treatment type; choose one of: {known}."]})
    return treatment


def ride_home_for(treatment: TreatmentType, ride_home: RideHome) -> RideHome:
    if not treatment.ride_home_required:
        return NO_RIDE
    if ride_home.mode is RideHomeMode.NONE:
        raise InvalidRequest(
            {"ride_home": [f"{treatment.label} needs a confirmed ride home: nobody may drive after treatment."]}
        )
    if ride_home.mode is RideHomeMode.PROVIDER and not ride_home.dropoff_address:
        raise InvalidRequest({"ride_home": ["A provider ride needs a drop-off address."]})
    return ride_home
