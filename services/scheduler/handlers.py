"""The scheduler's use cases. Each takes its dependencies as arguments and commits one unit of work.

Use cases that place sessions run again when the database refuses a write that a concurrent transaction
made impossible (a unique or exclusion violation): the second run sees the winner's session and answers
with the rule that now refuses.

Every change to an existing session first locks its row (``_session_to_change``), so that concurrent changes to one
session run one after another: the later one sees what the earlier one stored, and the transition table refuses it
if that made it impossible. Locks are taken in one order: the session, then its patient, then the clinic days.
"""

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_random

from shared.contract import Event
from shared.messaging import PoisonMessage

from .domain.audit import AuditAction
from .domain.checkpoints import CheckpointMark, CheckpointState
from .domain.clinic import Clinic, TreatmentType
from .domain.errors import ConcurrentChange, InvalidRequest, NotFound, Refused
from .domain.patients import ContactChannel, IntakeAssessment, Language, Patient, check_reachable
from .domain.rides import RideReport
from .domain.schedule import PatientRecord, Placement, Schedule
from .domain.series import ALTERNATIVES_SEARCH_DAYS, SeriesRequest, plan_series
from .domain.sessions import (
    BookingRequest,
    CancelReason,
    RideHome,
    Session,
    Step,
    book,
    ride_home_for,
    treatment_type_of,
)
from .domain.staff import Actor

log = logging.getLogger(__name__)

BOOK_SESSION = "book_session"
BOOK_SERIES = "book_series"
LONGEST_LISTING = timedelta(days=62)

run_again_after_concurrent_change = retry(
    retry=retry_if_exception_type(ConcurrentChange),
    stop=stop_after_attempt(5),
    wait=wait_random(0, 0.05),
    reraise=True,
)


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class IdempotencyKey:
    """A client's key for one request, and a fingerprint of what it asked: a reused key cannot book something else."""

    key: str
    fingerprint: str


def register_patient(
    *,
    full_name: str,
    phone: str,
    email: str | None,
    preferred_channel: ContactChannel,
    language: Language = Language.EN,
    reminders_opt_out: bool = False,
    uow,
    now: datetime,
) -> Patient:
    check_reachable(preferred_channel, email)
    patient = Patient(
        id=new_id(),
        full_name=full_name,
        phone=phone,
        email=email,
        preferred_channel=preferred_channel,
        created_at=now,
        language=language,
        reminders_opt_out=reminders_opt_out,
    )
    with uow:
        uow.patients.add(patient)
        uow.commit()
    return patient


def change_contact_preferences(
    patient_id: str, changes: Mapping[str, object], *, uow
) -> tuple[Patient, IntakeAssessment | None]:
    """Change how a patient is reached (channel, language, reminders, e-mail, phone); notifications reads these when
    it sends, so the change holds for every message from then on. Publishes nothing: events carry no contact detail."""
    with uow:
        patient = uow.patients.get_for_update(patient_id)
        if patient is None:
            raise NotFound("patient", patient_id)
        patient.change_contact(changes)
        uow.patients.save(patient)
        intake = uow.patients.latest_intake(patient_id)
        uow.commit()
    return patient, intake


def get_patient(patient_id: str, *, uow) -> tuple[Patient, IntakeAssessment | None]:
    with uow.read_only():
        patient = uow.patients.get(patient_id)
        intake = uow.patients.latest_intake(patient_id) if patient else None
    if patient is None:
        raise NotFound("patient", patient_id)
    return patient, intake


def record_intake(patient_id: str, *, completed_at: datetime, recorded_by: str, uow, now: datetime) -> IntakeAssessment:
    """Staff record an intake assessment done elsewhere; from then on the patient may book treatments."""
    if completed_at > now:
        raise InvalidRequest({"completed_at": ["An intake is recorded once it is done, not ahead of time."]})
    intake = IntakeAssessment(
        id=new_id(), patient_id=patient_id, completed_at=completed_at, recorded_by=recorded_by, recorded_at=now
    )
    with uow:
        if uow.patients.get(patient_id) is None:
            raise NotFound("patient", patient_id)
        uow.patients.add_intake(intake)
        uow.commit()
    return intake


def availability(
    treatment_type: str,
    *,
    window_from: datetime,
    window_to: datetime,
    patient_id: str | None = None,
    chair_id: str | None = None,
    clinician_id: str | None = None,
    uow,
    clinic: Clinic,
    now: datetime,
) -> list[Placement]:
    """The starts a booking would accept, from the same ``Schedule.place`` that every booking path asks."""
    treatment = treatment_type_of(clinic, treatment_type)
    with uow.read_only():
        patient = _patient_record(uow, patient_id, now) if patient_id else None
        schedule = Schedule(
            clinic, uow.sessions.occupancy_between(window_from, window_to + treatment.chair_hold), now=now
        )
    return schedule.open_starts(
        treatment, window_from, window_to, patient=patient, chair_id=chair_id, clinician_id=clinician_id
    )


@run_again_after_concurrent_change
def book_session(
    request: BookingRequest,
    *,
    uow,
    clinic: Clinic,
    now: datetime,
    idempotency: IdempotencyKey | None = None,
    actor: Actor | None = None,
) -> tuple[Session, bool]:
    """Book one session; returns it and whether it was booked earlier by a request with the same key."""
    treatment = treatment_type_of(clinic, request.treatment_type)
    ride_home_for(treatment, request.ride_home)
    with uow:
        earlier = _replay_or_claim(uow, BOOK_SESSION, idempotency, now)
        if earlier is not None:
            return uow.sessions.get(earlier), True
        patient = _locked_patient_record(uow, request.patient_id, now)
        schedule = _schedule_around(uow, clinic, treatment, request.starts_at, now)
        placement = schedule.place(
            treatment, request.starts_at, patient=patient, chair_id=request.chair_id, clinician_id=request.clinician_id
        )
        session, events = book(request, placement, clinic=clinic, now=now)
        uow.sessions.add(session)
        uow.outbox.add(events)
        _audit(uow, actor, AuditAction.SESSION_BOOKED, session.id, now)
        if idempotency is not None:
            uow.idempotency_keys.settle(BOOK_SESSION, idempotency.key, session.id)
        uow.commit()
    return session, False


@run_again_after_concurrent_change
def book_series(
    request: SeriesRequest,
    *,
    patient_id: str,
    ride_home: RideHome,
    uow,
    clinic: Clinic,
    now: datetime,
    idempotency: IdempotencyKey | None = None,
    actor: Actor | None = None,
) -> tuple[str, list[Session], bool]:
    """Book every session of an induction series, or none; returns the series id, its sessions and whether replayed."""
    treatment = treatment_type_of(clinic, request.treatment_type)
    ride_home_for(treatment, ride_home)
    series_id = new_id()
    with uow:
        earlier = _replay_or_claim(uow, BOOK_SERIES, idempotency, now)
        if earlier is not None:
            return earlier, uow.series.sessions_of(earlier), True
        patient = _locked_patient_record(uow, patient_id, now)
        window_from = request.first_starts_at - timedelta(days=1)
        window_to = request.first_starts_at + timedelta(days=request.within_days + ALTERNATIVES_SEARCH_DAYS + 1)
        uow.sessions.lock_days(clinic.local_days(window_from, window_to))
        schedule = Schedule(clinic, uow.sessions.occupancy_between(window_from, window_to), now=now)
        placements = plan_series(request, treatment, schedule=schedule, patient=patient)
        uow.series.add(
            series_id=series_id,
            patient_id=patient_id,
            treatment_type=treatment.id,
            count=request.count,
            within_days=request.within_days,
            now=now,
        )
        booked = []
        for placement in placements:
            booking = BookingRequest(
                new_id(), patient_id, treatment.id, placement.starts_at, ride_home, series_id=series_id
            )
            session, events = book(booking, placement, clinic=clinic, now=now)
            uow.sessions.add(session)
            uow.outbox.add(events)
            _audit(uow, actor, AuditAction.SESSION_BOOKED, session.id, now, detail=f"series {series_id}")
            booked.append(session)
        if idempotency is not None:
            uow.idempotency_keys.settle(BOOK_SERIES, idempotency.key, series_id)
        uow.commit()
    return series_id, booked, False


def get_series(series_id: str, *, uow) -> list[Session]:
    with uow.read_only():
        sessions = uow.series.sessions_of(series_id)
    if sessions is None:
        raise NotFound("series", series_id)
    return sessions


@run_again_after_concurrent_change
def reschedule_session(
    session_id: str,
    *,
    starts_at: datetime,
    chair_id: str | None = None,
    clinician_id: str | None = None,
    uow,
    clinic: Clinic,
    now: datetime,
    actor: Actor | None = None,
) -> Session:
    with uow:
        session = _session_to_change(uow, session_id)
        session.require(Step.RESCHEDULE)
        treatment = treatment_type_of(clinic, session.treatment_type)
        patient = _locked_patient_record(uow, session.patient_id, now, ignoring=session.id)
        schedule = _schedule_around(uow, clinic, treatment, starts_at, now, ignoring=session.id)
        placement = schedule.place(treatment, starts_at, patient=patient, chair_id=chair_id, clinician_id=clinician_id)
        events = session.reschedule(placement)
        _audit(uow, actor, AuditAction.SESSION_RESCHEDULED, session.id, now)
        _save(uow, session, events)
    return session


def cancel_session(
    session_id: str,
    *,
    reason: CancelReason,
    note: str | None = None,
    uow,
    clinic: Clinic,
    now: datetime,
    actor: Actor | None = None,
) -> Session:
    # The reason's code only: the note is free text and may name the patient.
    audit = _Audit(actor, AuditAction.SESSION_CANCELLED, now, detail=reason.value)
    return _change_session(
        session_id, uow, lambda s: s.cancel(reason=reason, note=note, clinic=clinic, now=now), audit=audit
    )


def check_in(
    session_id: str,
    *,
    override_reason: str | None = None,
    uow,
    clinic: Clinic,
    now: datetime,
    actor: Actor | None = None,
) -> Session:
    with uow:
        session = _session_to_change(uow, session_id)
        events = session.check_in(clinic=clinic, now=now, override_reason=override_reason)
        # The reason stays with the session; the trail says only that the gate was overridden, and by whom.
        overridden = session.check_in_override_reason is not None
        action = AuditAction.CHECK_IN_GATE_OVERRIDDEN if overridden else AuditAction.SESSION_CHECKED_IN
        _audit(uow, actor, action, session.id, now)
        _save(uow, session, events)
    return session


def start_treatment(
    session_id: str,
    *,
    override_reason: str | None = None,
    uow,
    clinic: Clinic,
    now: datetime,
    actor: Actor | None = None,
) -> Session:
    """Start treatment now; the session's times follow the actual start when the chair and clinician are free for
    them, judged against what every other session holds, its days locked like a booking's."""
    with uow:
        session = _session_to_change(uow, session_id)
        session.require(Step.START_TREATMENT)
        done = uow.checkpoints.done(session.id)
        # The moved times stay within the session's spans, at most its treatment, recovery and turnover from now.
        reach = now + (session.chair_free_at - session.starts_at)
        first = min(now, session.starts_at)
        uow.sessions.lock_days(clinic.local_days(first, reach))
        others = uow.sessions.occupancy_between(first, reach)
        events = session.start_treatment(
            clinic=clinic, now=now, checkpoints_done=done, others=others, override_reason=override_reason
        )
        overridden = session.start_override_reason is not None
        _audit(
            uow,
            actor,
            AuditAction.START_GATE_OVERRIDDEN if overridden else AuditAction.TREATMENT_STARTED,
            session.id,
            now,
        )
        _save(uow, session, events)
    return session


def mark_checkpoint(
    session_id: str, checkpoint_id: str, *, uow, clinic: Clinic, now: datetime, actor: Actor | None = None
) -> Session:
    """A clinician did one of the session's monitoring checkpoints; the mark records when and by whom, the audit too
    (with the checkpoint's id). No event: checkpoints concern the scheduler's floor only."""
    with uow:
        session = _session_to_change(uow, session_id)
        done = uow.checkpoints.done(session.id)
        by = (actor.name if actor is not None else "service")[:64]
        mark = session.mark_checkpoint(checkpoint_id, clinic=clinic, done=done, by=by, now=now)
        uow.checkpoints.add(mark)
        _audit(uow, actor, AuditAction.CHECKPOINT_DONE, session.id, now, detail=checkpoint_id)
        uow.commit()
    return session


def discharge(
    session_id: str,
    *,
    at: datetime | None,
    override_reason: str | None = None,
    uow,
    clinic: Clinic,
    now: datetime,
    actor: Actor | None = None,
) -> Session:
    """Release the patient once monitoring is complete and every checkpoint done, or with a clinician's override
    reason (kept with the session; the trail says only that the gate was overridden, and by whom); discharging an
    intake session completes the patient's intake."""
    discharged_at = at or now
    with uow:
        session = _session_to_change(uow, session_id)
        done = uow.checkpoints.done(session.id)
        events = session.discharge(
            at=discharged_at, now=now, clinic=clinic, checkpoints_done=done, override_reason=override_reason
        )
        treatment = clinic.treatment_type(session.treatment_type)
        if treatment is not None and treatment.counts_as_intake:
            uow.patients.add_intake(
                IntakeAssessment(
                    id=new_id(),
                    patient_id=session.patient_id,
                    completed_at=discharged_at,
                    recorded_by=f"intake session {session.id}",
                    recorded_at=now,
                    session_id=session.id,
                )
            )
        overridden = session.discharge_override_reason is not None
        action = AuditAction.DISCHARGE_GATE_OVERRIDDEN if overridden else AuditAction.SESSION_DISCHARGED
        _audit(uow, actor, action, session.id, now)
        _save(uow, session, events)
    return session


def session_checkpoints(session: Session, *, uow, clinic: Clinic, now: datetime) -> list[CheckpointState]:
    """The session's checkpoints and where each stands at ``now``."""
    return checkpoints_of([session], uow=uow, clinic=clinic, now=now)[session.id]


def checkpoints_of(sessions: list[Session], *, uow, clinic: Clinic, now: datetime) -> dict[str, list[CheckpointState]]:
    """Each session's checkpoints and where each stands at ``now``, by session id (for a day's board: one read)."""
    with uow.read_only():
        done: dict[str, dict[str, CheckpointMark]] = uow.checkpoints.done_for(s.id for s in sessions)
    return {s.id: s.checkpoint_states(clinic, done.get(s.id, {}), now=now) for s in sessions}


def record_no_show(session_id: str, *, uow, now: datetime, actor: Actor | None = None) -> Session:
    audit = _Audit(actor, AuditAction.NO_SHOW_RECORDED, now)
    return _change_session(session_id, uow, lambda s: s.record_no_show(now=now), audit=audit)


def record_ride_status(event: Event, *, uow) -> None:
    """Keep the session's ride status from a ``ride.*`` event, once per event, the inbox in the same transaction.

    The session's row is locked like any other change to it, so a check-in waits for the status or sees it stored.
    """
    session_id = event.data["session_id"]
    with uow:
        if uow.inbox.already_processed(event):
            log.info("%s %s already handled", event.type, event.event_id)
            return
        session = uow.sessions.get_for_update(session_id)
        if session is None:
            # Ride events follow session.booked, which this scheduler published: it never booked this session.
            raise PoisonMessage(f"{event.type} for session {session_id}, which the scheduler does not know")
        report = RideReport(event.type, event.data["status"], event.occurred_at)
        if session.record_ride(report):
            uow.sessions.save(session)
        else:
            log.info(
                "%s %s for session %s changes nothing (older or no longer at risk)",
                event.type,
                event.event_id,
                session_id,
            )
        uow.inbox.record(event)
        uow.commit()


def get_session(session_id: str, *, uow) -> Session:
    with uow.read_only():
        return _existing_session(uow, session_id)


def list_sessions(*, window_from: datetime, window_to: datetime, uow) -> list[Session]:
    if window_to <= window_from:
        raise InvalidRequest({"to": ["Give a 'to' after 'from'."]})
    if window_to - window_from > LONGEST_LISTING:
        raise InvalidRequest({"to": [f"List at most {LONGEST_LISTING.days} days at a time."]})
    with uow.read_only():
        return uow.sessions.between(window_from, window_to)


@dataclass(frozen=True)
class _Audit:
    actor: Actor | None
    action: AuditAction
    now: datetime
    detail: str | None = None


def _change_session(session_id: str, uow, change: Callable[[Session], list[Event]], *, audit: _Audit) -> Session:
    with uow:
        session = _session_to_change(uow, session_id)
        events = change(session)
        _audit(uow, audit.actor, audit.action, session.id, audit.now, detail=audit.detail)
        _save(uow, session, events)
    return session


def _audit(
    uow, actor: Actor | None, action: AuditAction, subject_id: str, now: datetime, *, detail: str | None = None
) -> None:
    """The change's entry in the audit trail, in the change's own transaction: both are kept, or neither. A use case
    run without an actor (from a test) records none."""
    if actor is not None:
        uow.audit.record(actor, action, subject_id, now, detail)


def _save(uow, session: Session, events: list[Event]) -> None:
    uow.sessions.save(session)
    uow.outbox.add(events)
    uow.commit()


def _existing_session(uow, session_id: str) -> Session:
    session = uow.sessions.get(session_id)
    if session is None:
        raise NotFound("session", session_id)
    return session


def _session_to_change(uow, session_id: str) -> Session:
    """The session as stored, locked until commit: a concurrent change to it waits, then sees this one's result."""
    session = uow.sessions.get_for_update(session_id)
    if session is None:
        raise NotFound("session", session_id)
    return session


def _schedule_around(
    uow, clinic: Clinic, treatment: TreatmentType, starts_at: datetime, now: datetime, ignoring: str | None = None
) -> Schedule:
    """The schedule around one start, its days locked against concurrent bookings until commit."""
    uow.sessions.lock_days(clinic.local_days(starts_at, starts_at + treatment.chair_hold))
    blocks = uow.sessions.occupancy_between(starts_at, starts_at + treatment.chair_hold)
    return Schedule(clinic, [b for b in blocks if b.session_id != ignoring], now=now)


def _locked_patient_record(uow, patient_id: str, now: datetime, ignoring: str | None = None) -> PatientRecord:
    """The patient's record, locked against concurrent bookings for the same patient until commit."""
    return _patient_record(uow, patient_id, now, ignoring, lock=True)


def _patient_record(
    uow, patient_id: str, now: datetime, ignoring: str | None = None, *, lock: bool = False
) -> PatientRecord:
    if uow.patients.get(patient_id) is None:
        raise InvalidRequest({"patient_id": ["No patient has this id."]})
    if lock:
        uow.patients.lock(patient_id)
    return PatientRecord(
        patient_id=patient_id,
        intake_completed=uow.patients.intake_completed(patient_id, by=now),
        blocks=[b for b in uow.sessions.blocks_of_patient(patient_id) if b.session_id != ignoring],
    )


def _replay_or_claim(uow, operation: str, idempotency: IdempotencyKey | None, now: datetime) -> str | None:
    """The id of what an earlier request with this key made, or None after claiming the key for this one."""
    if idempotency is None:
        return None
    earlier = uow.idempotency_keys.find(operation, idempotency.key)
    if earlier is None:
        uow.idempotency_keys.claim(operation, idempotency.key, idempotency.fingerprint, now)
        return None
    fingerprint, resource_id = earlier
    if fingerprint != idempotency.fingerprint:
        raise Refused(
            "idempotency_key_reused",
            "This Idempotency-Key was already used for a different request; use a new key for a new booking.",
        )
    return resource_id


# The front desk's pages: finding a patient, the names behind the board's initials, a session's history.

PATIENT_SEARCH_LIMIT = 20
HISTORY_LIMIT = 200


def search_patients(text: str, *, uow, limit: int = PATIENT_SEARCH_LIMIT) -> list[Patient]:
    """Patients whose name or phone contains ``text`` (ignoring case), by name; none for an empty search."""
    wanted = " ".join(text.split())
    if not wanted:
        return []
    with uow.read_only():
        return uow.patients.search(wanted, limit=limit)


def day_on_the_floor(*, window_from: datetime, window_to: datetime, uow) -> tuple[list[Session], dict[str, str]]:
    """The sessions starting in the window and their patients' names, read in one transaction."""
    with uow.read_only():
        sessions = uow.sessions.between(window_from, window_to)
        return sessions, uow.patients.names(s.patient_id for s in sessions)


def session_with_history(session_id: str, *, uow) -> tuple[Session, Patient | None, list]:
    """The session, its patient and what staff and services did to it (the audit trail), oldest first."""
    with uow.read_only():
        session = _existing_session(uow, session_id)
        return session, uow.patients.get(session.patient_id), uow.sessions.history(session_id, limit=HISTORY_LIMIT)
