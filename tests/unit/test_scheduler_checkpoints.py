"""The treatment day's safety gates in the scheduler's domain: the earliest start, the times that follow the actual
start, the monitoring checkpoints (due, overdue, done) and the discharge gate, each with its override.

Esketamine here follows its REMS: blood pressure before dosing, 40 minutes after, and before discharge; 15 minutes of
dosing, then at least two hours of monitoring. The clock is a plain value handed to each step.
"""

from dataclasses import asdict, replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from fakes import FakePatientRepository, FakeSessionRepository, FakeUnitOfWork

from services.scheduler import handlers
from services.scheduler.domain.audit import AuditAction
from services.scheduler.domain.checkpoints import CheckpointMark, CheckpointStatus
from services.scheduler.domain.clinic import (
    WEEKDAYS,
    Checkpoint,
    CheckpointMoment,
    Clinic,
    Clinician,
    TreatmentType,
    WeeklyHours,
)
from services.scheduler.domain.errors import NotFound, Refused
from services.scheduler.domain.rides import RideReport
from services.scheduler.domain.schedule import Placement
from services.scheduler.domain.sessions import BookingRequest, RideHome, RideHomeMode, Session, SessionStatus, book
from services.scheduler.domain.staff import Actor

NEW_YORK = ZoneInfo("America/New_York")
BOOKED_AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
START = datetime(2027, 1, 5, 15, 0, tzinfo=UTC)  # Tuesday 10:00 in New York
MINUTE = timedelta(minutes=1)
ESCORT = RideHome(RideHomeMode.ESCORT, "Bo Lee", "+14155550124")
NURSE = Actor("staff-7", "nurse.kim")
REASON = "BP cuff broken; manual reading charted"

ESKETAMINE = TreatmentType(
    "esketamine_nasal_spray",
    "Esketamine nasal spray",
    15,
    120,
    15,
    ride_home_required=True,
    checkpoints=(
        Checkpoint("bp_before_dose", "Blood pressure before dosing", moment=CheckpointMoment.BEFORE_TREATMENT),
        Checkpoint("bp_40_min", "Blood pressure 40 minutes after dosing", minutes_after_start=40),
        Checkpoint("bp_before_discharge", "Blood pressure before discharge", moment=CheckpointMoment.BEFORE_DISCHARGE),
    ),
    minimum_monitoring_minutes=120,
)
HOURS = WeeklyHours(tuple(((time(7), time(20)),) if d not in ("saturday", "sunday") else () for d in WEEKDAYS))
CLINIC = Clinic(
    name="Test Clinic",
    time_zone=NEW_YORK,
    chairs=("chair-1", "chair-2"),
    treatment_types={"esketamine_nasal_spray": ESKETAMINE},
    opening_hours=HOURS,
    clinicians=(Clinician("dr-a", "Dr. Anika Patel", HOURS), Clinician("dr-b", "Dr. Ben Ortiz", HOURS)),
)


def placement(starts_at: datetime, chair_id: str = "chair-1", clinician_id: str = "dr-a") -> Placement:
    t = ESKETAMINE
    return Placement(
        t.id,
        starts_at,
        starts_at + t.treatment,
        starts_at + t.in_chair,
        starts_at + t.chair_hold,
        chair_id,
        clinician_id,
    )


def booked(
    starts_at: datetime = START, session_id: str = "session-1", chair_id: str = "chair-1", clinician_id: str = "dr-a"
) -> Session:
    request = BookingRequest(session_id, f"patient-{session_id}", ESKETAMINE.id, starts_at, ESCORT)
    session, _ = book(request, placement(starts_at, chair_id, clinician_id), clinic=CLINIC, now=BOOKED_AT)
    session.record_ride(RideReport("ride.confirmed", "confirmed", BOOKED_AT + timedelta(hours=1)))
    return session


def checked_in(starts_at: datetime = START, **kwargs) -> Session:
    session = booked(starts_at, **kwargs)
    session.check_in(clinic=CLINIC, now=starts_at - 40 * MINUTE)
    return session


def mark(session: Session, checkpoint_id: str, now: datetime, done: dict) -> dict:
    done = {
        **done,
        checkpoint_id: session.mark_checkpoint(checkpoint_id, clinic=CLINIC, done=done, by="nurse", now=now),
    }
    return done


def started(at: datetime = START) -> tuple[Session, dict]:
    """Checked in, blood pressure taken before dosing, treatment started at ``at``."""
    session = checked_in()
    done = mark(session, "bp_before_dose", at - 5 * MINUTE, {})
    session.start_treatment(clinic=CLINIC, now=at, checkpoints_done=done)
    return session, done


def refused(reason: str, step, session: Session) -> Refused:
    before = asdict(session)
    with pytest.raises(Refused) as refusal:
        step()
    assert refusal.value.reason == reason, refusal.value.message
    assert asdict(session) == before, "a refused step changes nothing"
    return refusal.value


# --- the earliest start --------------------------------------------------------------------------------------------


def test_treatment_cannot_start_more_than_the_clinics_lead_before_the_booked_start():
    session = checked_in()
    done = mark(session, "bp_before_dose", START - 35 * MINUTE, {})

    refusal = refused(
        "too_early_to_start",
        lambda: session.start_treatment(clinic=CLINIC, now=START - 31 * MINUTE, checkpoints_done=done),
        session,
    )

    assert "30 minutes" in refusal.message and "10:00" in refusal.message and "09:30" in refusal.message


def test_a_treatment_types_own_earliest_start_wins_over_the_clinics():
    strict = replace(CLINIC, treatment_types={ESKETAMINE.id: replace(ESKETAMINE, earliest_start_minutes_before=5)})
    session = checked_in()
    done = {"bp_before_dose": CheckpointMark(session.id, "bp_before_dose", START - 30 * MINUTE, "nurse")}

    refused(
        "too_early_to_start",
        lambda: session.start_treatment(clinic=strict, now=START - 6 * MINUTE, checkpoints_done=done),
        session,
    )
    session.start_treatment(clinic=strict, now=START - 5 * MINUTE, checkpoints_done=done)
    assert session.status is SessionStatus.IN_TREATMENT


def test_treatment_cannot_start_before_check_in():
    session = booked()

    refused(
        "transition_not_allowed",
        lambda: session.start_treatment(clinic=CLINIC, now=START, checkpoints_done={}),
        session,
    )


# --- the actual start moves the times ----------------------------------------------------------------------------


@pytest.mark.parametrize("minutes", [-30, 0, 25], ids=["30 minutes early", "on time", "25 minutes late"])
def test_the_actual_start_moves_treatment_recovery_pickup_and_turnover_and_the_event_carries_them(minutes):
    session = checked_in()
    done = mark(session, "bp_before_dose", START - 35 * MINUTE, {})
    actual = START + minutes * MINUTE

    [event] = session.start_treatment(clinic=CLINIC, now=actual, checkpoints_done=done)

    assert (session.starts_at, session.booked_starts_at, session.treatment_started_at) == (actual, START, actual)
    assert session.treatment_ends_at == actual + 15 * MINUTE
    assert session.recovery_ends_at == actual + 135 * MINUTE  # the earliest discharge, and the pickup
    assert session.chair_free_at == actual + 150 * MINUTE
    assert session.earliest_discharge(CLINIC) == session.recovery_ends_at
    assert dict(event.data) == {
        "session_id": "session-1",
        "patient_id": "patient-session-1",
        "treatment_started_at": actual,
        "treatment_ends_at": actual + 15 * MINUTE,
        "recovery_ends_at": actual + 135 * MINUTE,
        "chair_free_at": actual + 150 * MINUTE,
    }


def test_an_early_start_is_refused_while_the_previous_session_still_holds_the_chair_for_its_cleaning():
    # The earlier session on chair-1 runs 07:15-09:45 with its turnover; this one, booked at 10:00, may not start at 09:40.
    earlier = booked(START - 165 * MINUTE, session_id="earlier", clinician_id="dr-b")
    session = checked_in()
    done = mark(session, "bp_before_dose", START - 30 * MINUTE, {})

    refusal = refused(
        "chair_busy_if_started_now",
        lambda: session.start_treatment(
            clinic=CLINIC, now=START - 20 * MINUTE, checkpoints_done=done, others=[earlier.block, session.block]
        ),
        session,
    )

    assert "chair-1" in refusal.message and "09:45" in refusal.message
    session.start_treatment(clinic=CLINIC, now=START - 15 * MINUTE, checkpoints_done=done, others=[earlier.block])
    assert session.starts_at == START - 15 * MINUTE


def test_a_late_start_is_refused_when_the_moved_treatment_would_take_the_clinician_from_the_next_patient():
    # Dr. Patel treats another patient on chair-2 from 10:30; a start at 10:20 would keep her busy until 10:35.
    next_patient = booked(START + 30 * MINUTE, session_id="next", chair_id="chair-2")
    session = checked_in()
    done = mark(session, "bp_before_dose", START, {})

    refusal = refused(
        "clinician_busy_if_started_now",
        lambda: session.start_treatment(
            clinic=CLINIC, now=START + 20 * MINUTE, checkpoints_done=done, others=[next_patient.block]
        ),
        session,
    )

    assert "Dr. Anika Patel" in refusal.message and "10:30" in refusal.message
    session.start_treatment(clinic=CLINIC, now=START + 15 * MINUTE, checkpoints_done=done, others=[next_patient.block])
    assert session.treatment_ends_at == START + 30 * MINUTE


def test_a_session_discharged_early_gives_its_chair_back_early_so_the_next_may_start_early():
    earlier = checked_in(START - 150 * MINUTE, session_id="earlier", clinician_id="dr-b")  # 07:30 on chair-1
    done = mark(earlier, "bp_before_dose", START - 155 * MINUTE, {})
    earlier.start_treatment(clinic=CLINIC, now=START - 150 * MINUTE, checkpoints_done=done)  # turnover until 10:00
    session = checked_in()
    mine = mark(session, "bp_before_dose", START - 30 * MINUTE, {})
    refused(
        "chair_busy_if_started_now",
        lambda: session.start_treatment(
            clinic=CLINIC, now=START - 15 * MINUTE, checkpoints_done=mine, others=[earlier.block]
        ),
        session,
    )

    # The clinician sends the first patient home at 09:30, before the end of monitoring, with a reason.
    earlier.discharge(
        at=START - 30 * MINUTE, now=START - 30 * MINUTE, clinic=CLINIC, checkpoints_done=done, override_reason=REASON
    )
    session.start_treatment(clinic=CLINIC, now=START - 15 * MINUTE, checkpoints_done=mine, others=[earlier.block])

    assert earlier.chair_free_at == START - 15 * MINUTE  # discharged at 09:30, then 15 minutes of cleaning
    assert session.status is SessionStatus.IN_TREATMENT


# --- the checkpoint before treatment -------------------------------------------------------------------------------


def test_treatment_cannot_start_while_a_checkpoint_before_it_is_open():
    session = checked_in()

    refusal = refused(
        "checkpoint_open", lambda: session.start_treatment(clinic=CLINIC, now=START, checkpoints_done={}), session
    )

    assert "Blood pressure before dosing" in refusal.message and "override_reason" in refusal.message


def test_an_override_reason_starts_treatment_with_the_checkpoint_open_keeps_the_reason_and_leaves_it_out_of_the_event():
    session = checked_in()

    [event] = session.start_treatment(clinic=CLINIC, now=START, checkpoints_done={}, override_reason=REASON)

    assert session.status is SessionStatus.IN_TREATMENT and session.start_override_reason == REASON
    assert REASON not in repr(event.data)
    [before] = session.checkpoint_states(CLINIC, {}, now=START + MINUTE)[:1]
    assert before.status is CheckpointStatus.SKIPPED


def test_an_override_reason_given_when_every_checkpoint_before_treatment_is_done_is_not_recorded():
    session = checked_in()
    done = mark(session, "bp_before_dose", START - 5 * MINUTE, {})

    session.start_treatment(clinic=CLINIC, now=START, checkpoints_done=done, override_reason=REASON)

    assert session.start_override_reason is None


# --- checkpoints: due, overdue, done -------------------------------------------------------------------------------


def statuses(session: Session, done: dict, now: datetime) -> dict[str, str]:
    return {c.id: c.status.value for c in session.checkpoint_states(CLINIC, done, now=now)}


def test_each_checkpoint_is_due_at_its_time_relative_to_the_session_and_the_actual_start():
    session, done = started(START + 10 * MINUTE)

    states = session.checkpoint_states(CLINIC, done, now=START + 11 * MINUTE)

    assert [(c.id, c.label, c.due_at) for c in states] == [
        ("bp_before_dose", "Blood pressure before dosing", START + 10 * MINUTE),
        ("bp_40_min", "Blood pressure 40 minutes after dosing", START + 50 * MINUTE),
        ("bp_before_discharge", "Blood pressure before discharge", START + 145 * MINUTE),  # 15 + 120 after 10:10
    ]
    assert (states[0].status, states[0].done_at, states[0].done_by) == (
        CheckpointStatus.DONE,
        START + 5 * MINUTE,
        "nurse",
    )


@pytest.mark.parametrize(
    "minutes_after_the_start, status",
    [(29, "pending"), (30, "due"), (40, "due"), (50, "due"), (51, "overdue"), (200, "overdue")],
)
def test_a_checkpoint_is_pending_then_due_within_ten_minutes_of_its_time_then_overdue(minutes_after_the_start, status):
    session, done = started()

    assert statuses(session, done, START + minutes_after_the_start * MINUTE)["bp_40_min"] == status


def test_the_checkpoint_before_treatment_is_due_before_the_start_and_overdue_once_the_start_is_well_past():
    session = checked_in()

    assert statuses(session, {}, START - 40 * MINUTE)["bp_before_dose"] == "pending"
    assert statuses(session, {}, START - 5 * MINUTE)["bp_before_dose"] == "due"
    assert statuses(session, {}, START + 11 * MINUTE)["bp_before_dose"] == "overdue"


def test_a_checkpoint_marked_done_stays_done_whatever_the_clock_says():
    session, done = started()
    done = mark(session, "bp_40_min", START + 41 * MINUTE, done)

    assert statuses(session, done, START + 500 * MINUTE)["bp_40_min"] == "done"


def test_a_checkpoint_can_be_marked_from_ten_minutes_before_it_is_due_and_not_earlier():
    session, done = started()

    refusal = refused(
        "checkpoint_not_due",
        lambda: session.mark_checkpoint("bp_40_min", clinic=CLINIC, done=done, by="nurse", now=START + 29 * MINUTE),
        session,
    )
    assert "10:40" in refusal.message
    assert session.mark_checkpoint("bp_40_min", clinic=CLINIC, done=done, by="nurse", now=START + 30 * MINUTE)


def test_a_checkpoint_is_marked_once():
    session, done = started()

    refused(
        "checkpoint_already_done",
        lambda: session.mark_checkpoint("bp_before_dose", clinic=CLINIC, done=done, by="nurse", now=START),
        session,
    )


@pytest.mark.parametrize(
    "checkpoint_id, session_in",
    [
        ("bp_before_dose", lambda: booked()),  # not arrived yet
        ("bp_before_dose", lambda: started()[0]),  # treatment already started
        ("bp_40_min", lambda: checked_in()),  # before treatment
    ],
    ids=["before-arrival", "after-the-start", "timed-before-treatment"],
)
def test_a_checkpoint_is_marked_only_in_its_step_of_the_session(checkpoint_id, session_in):
    session = session_in()

    refused(
        "checkpoint_not_now",
        lambda: session.mark_checkpoint(checkpoint_id, clinic=CLINIC, done={}, by="nurse", now=START + 45 * MINUTE),
        session,
    )


def test_a_checkpoint_the_treatment_does_not_have_is_not_found():
    session, done = started()

    with pytest.raises(NotFound):
        session.mark_checkpoint("temperature", clinic=CLINIC, done=done, by="nurse", now=START + 40 * MINUTE)


# --- the discharge gate --------------------------------------------------------------------------------------------


def discharge(session: Session, minutes_after_start: int, done: dict, override_reason: str | None = None):
    at = START + minutes_after_start * MINUTE
    return session.discharge(at=at, now=at, clinic=CLINIC, checkpoints_done=done, override_reason=override_reason)


def test_discharge_is_refused_before_the_minimum_monitoring_is_over_naming_the_time_and_what_is_still_open():
    session, done = started()
    done = mark(session, "bp_40_min", START + 40 * MINUTE, done)

    refusal = refused("monitoring_not_complete", lambda: discharge(session, 134, done), session)

    assert "2 hours" in refusal.message and "12:15" in refusal.message
    assert "Blood pressure before discharge" in refusal.message
    assert "Blood pressure 40 minutes" not in refusal.message


def test_discharge_is_refused_while_a_checkpoint_is_open_once_monitoring_is_over():
    session, done = started()
    done = mark(session, "bp_before_discharge", START + 130 * MINUTE, done)

    refusal = refused("checkpoint_open", lambda: discharge(session, 140, done), session)

    assert "Blood pressure 40 minutes after dosing" in refusal.message and "override_reason" in refusal.message


def test_a_checkpoint_before_treatment_skipped_by_the_starts_override_does_not_hold_up_the_discharge():
    session = checked_in()
    session.start_treatment(clinic=CLINIC, now=START, checkpoints_done={}, override_reason=REASON)
    done = mark(session, "bp_40_min", START + 40 * MINUTE, {})
    done = mark(session, "bp_before_discharge", START + 130 * MINUTE, done)

    discharge(session, 135, done)

    assert session.status is SessionStatus.DISCHARGED and session.discharge_override_reason is None


def test_with_monitoring_over_and_every_checkpoint_done_the_patient_is_discharged_without_an_override():
    session, done = started()
    done = mark(session, "bp_40_min", START + 40 * MINUTE, done)
    done = mark(session, "bp_before_discharge", START + 130 * MINUTE, done)

    [event] = discharge(session, 135, done)

    assert session.status is SessionStatus.DISCHARGED and session.discharged_at == START + 135 * MINUTE
    assert session.discharge_override_reason is None
    assert event.data["discharged_at"] == START + 135 * MINUTE
    assert set(statuses(session, done, START + 300 * MINUTE).values()) == {"done"}


def test_a_clinicians_override_reason_discharges_early_with_checkpoints_open_and_stays_out_of_the_event():
    session, done = started()

    [event] = discharge(session, 60, done, override_reason=REASON)

    assert session.status is SessionStatus.DISCHARGED and session.discharge_override_reason == REASON
    assert REASON not in repr(event.data)
    assert statuses(session, done, START + 61 * MINUTE) == {
        "bp_before_dose": "done",
        "bp_40_min": "skipped",
        "bp_before_discharge": "skipped",
    }


# --- the use cases: the row lock, the schedule, the audit --------------------------------------------------------


class FakeCheckpoints:
    def __init__(self):
        self.marks: dict[str, dict] = {}

    def add(self, mark_) -> None:
        assert mark_.checkpoint_id not in self.marks.get(mark_.session_id, {}), "the primary key refuses a second"
        self.marks.setdefault(mark_.session_id, {})[mark_.checkpoint_id] = mark_

    def done(self, session_id: str) -> dict:
        return dict(self.marks.get(session_id, {}))

    def done_for(self, session_ids) -> dict:
        return {session_id: self.done(session_id) for session_id in session_ids}


class FakeAudit:
    def __init__(self):
        self.entries: list[tuple] = []

    def record(self, actor, action, subject_id, now, detail=None) -> None:
        self.entries.append((actor.name, action, subject_id, now, detail))


def unit_of_work(*sessions: Session) -> FakeUnitOfWork:
    return FakeUnitOfWork(
        sessions=FakeSessionRepository(*sessions),
        patients=FakePatientRepository(*(s.patient_id for s in sessions)),
        checkpoints=FakeCheckpoints(),
        audit=FakeAudit(),
    )


def test_marking_a_checkpoint_locks_the_session_stores_who_and_when_and_audits_it_without_an_event():
    uow = unit_of_work(checked_in())

    handlers.mark_checkpoint("session-1", "bp_before_dose", uow=uow, clinic=CLINIC, now=START - 5 * MINUTE, actor=NURSE)

    assert uow.sessions.calls == ["lock session session-1"]
    assert uow.checkpoints.done("session-1") == {
        "bp_before_dose": CheckpointMark("session-1", "bp_before_dose", START - 5 * MINUTE, "nurse.kim")
    }
    assert uow.audit.entries == [
        ("nurse.kim", AuditAction.CHECKPOINT_DONE, "session-1", START - 5 * MINUTE, "bp_before_dose")
    ]
    assert uow.published == []


def test_the_start_use_case_asks_the_schedule_of_the_day_ignoring_the_session_itself():
    earlier = booked(START - 165 * MINUTE, session_id="earlier", clinician_id="dr-b")
    session = checked_in()
    uow = unit_of_work(earlier, session)
    handlers.mark_checkpoint("session-1", "bp_before_dose", uow=uow, clinic=CLINIC, now=START - 30 * MINUTE)

    with pytest.raises(Refused) as refusal:
        handlers.start_treatment("session-1", uow=uow, clinic=CLINIC, now=START - 20 * MINUTE, actor=NURSE)
    assert refusal.value.reason == "chair_busy_if_started_now"
    assert uow.sessions.get("session-1").status is SessionStatus.CHECKED_IN and uow.published == []

    uow.sessions.calls.clear()
    started_ = handlers.start_treatment("session-1", uow=uow, clinic=CLINIC, now=START + 5 * MINUTE, actor=NURSE)

    assert uow.sessions.calls[:2] == ["lock session session-1", "lock day 2027-01-05"]
    assert started_.starts_at == START + 5 * MINUTE == uow.sessions.get("session-1").starts_at
    assert [e.type for e in uow.published] == ["session.treatment_started"]
    assert uow.audit.entries[-1][:3] == ("nurse.kim", AuditAction.TREATMENT_STARTED, "session-1")


def test_overriding_a_gate_is_audited_as_an_override_and_the_reason_stays_with_the_session():
    uow = unit_of_work(checked_in())

    handlers.start_treatment("session-1", override_reason=REASON, uow=uow, clinic=CLINIC, now=START, actor=NURSE)
    handlers.discharge(
        "session-1", at=None, override_reason=REASON, uow=uow, clinic=CLINIC, now=START + 60 * MINUTE, actor=NURSE
    )

    stored = uow.sessions.get("session-1")
    assert (stored.start_override_reason, stored.discharge_override_reason) == (REASON, REASON)
    assert [entry[1] for entry in uow.audit.entries] == [
        AuditAction.START_GATE_OVERRIDDEN,
        AuditAction.DISCHARGE_GATE_OVERRIDDEN,
    ]
    assert all(REASON not in repr(entry) for entry in uow.audit.entries)
    assert all(REASON not in repr(event.data) for event in uow.published)


def test_the_discharge_use_case_reads_the_checkpoints_marked_through_the_use_case():
    uow = unit_of_work(checked_in())
    for checkpoint_id, minutes in (("bp_before_dose", -5), ("bp_40_min", 40), ("bp_before_discharge", 130)):
        if checkpoint_id == "bp_40_min":
            handlers.start_treatment("session-1", uow=uow, clinic=CLINIC, now=START)
        handlers.mark_checkpoint("session-1", checkpoint_id, uow=uow, clinic=CLINIC, now=START + minutes * MINUTE)

    with pytest.raises(Refused) as refusal:
        handlers.discharge("session-1", at=None, uow=uow, clinic=CLINIC, now=START + 134 * MINUTE)
    assert refusal.value.reason == "monitoring_not_complete"

    discharged = handlers.discharge("session-1", at=None, uow=uow, clinic=CLINIC, now=START + 135 * MINUTE)

    assert discharged.status is SessionStatus.DISCHARGED and discharged.discharge_override_reason is None
    states = handlers.session_checkpoints(discharged, uow=uow, clinic=CLINIC, now=START + 136 * MINUTE)
    assert [s.status for s in states] == [CheckpointStatus.DONE] * 3
