"""A session's lifecycle: the transition table, the rules of each step, and events that carry ids, times and codes only."""

import copy
from dataclasses import asdict, replace
from datetime import UTC, datetime, time, timedelta
from itertools import product
from zoneinfo import ZoneInfo

import pytest
from fakes import FakePatientRepository, FakeSessionRepository, FakeUnitOfWork

from services.scheduler import handlers
from services.scheduler.domain.clinic import WEEKDAYS, Clinic, Clinician, TreatmentType, WeeklyHours
from services.scheduler.domain.errors import InvalidRequest, Refused
from services.scheduler.domain.rides import RideReport
from services.scheduler.domain.schedule import Placement
from services.scheduler.domain.sessions import (
    TRANSITIONS,
    BookingRequest,
    CancelReason,
    RideHome,
    RideHomeMode,
    Session,
    SessionStatus,
    Step,
    book,
)

UTC = UTC
NEW_YORK = ZoneInfo("America/New_York")
BOOKED_AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
START = datetime(2027, 1, 5, 15, 0, tzinfo=UTC)  # Tuesday 10:00 in New York
ESCORT = RideHome(RideHomeMode.ESCORT, "Bo Lee", "+14155550124")
NOTE = "Ann Lee called from +14155550123; her escort Bo Lee is ill"
PERSONAL = ("Ann Lee", "Bo Lee", "+14155550123", "+14155550124", "Anika", "Patel", NOTE)

IV = TreatmentType(
    "iv_infusion",
    "IV ketamine infusion",
    45,
    45,
    15,
    ride_home_required=True,
    intake_required=True,
    minimum_spacing_hours=20,
)
WEEKDAY_HOURS = WeeklyHours(tuple(((time(8), time(20)),) if d not in ("saturday", "sunday") else () for d in WEEKDAYS))


def clinic(late_cancellation_hours: int = 24) -> Clinic:
    return Clinic(
        name="Test Clinic",
        time_zone=NEW_YORK,
        chairs=("chair-1", "chair-2"),
        treatment_types={"iv_infusion": IV},
        opening_hours=WEEKDAY_HOURS,
        clinicians=(Clinician("dr-a", "Dr. Anika Patel", WEEKDAY_HOURS),),
        late_cancellation_hours=late_cancellation_hours,
    )


CLINIC = clinic()


def placement(starts_at: datetime = START, chair_id: str = "chair-1", clinician_id: str = "dr-a") -> Placement:
    return Placement(
        "iv_infusion",
        starts_at,
        starts_at + IV.treatment,
        starts_at + IV.in_chair,
        starts_at + IV.chair_hold,
        chair_id,
        clinician_id,
    )


def booked(starts_at: datetime = START, *, ride_confirmed: bool = True) -> Session:
    """A booked session; by default its escort has confirmed the ride home, so the check-in gate lets it through."""
    request = BookingRequest("session-1", "patient-1", "iv_infusion", starts_at, ESCORT)
    session, _ = book(request, placement(starts_at), clinic=CLINIC, now=BOOKED_AT)
    if ride_confirmed:
        assert session.record_ride(RideReport("ride.confirmed", "confirmed", BOOKED_AT + timedelta(hours=1)))
    return session


RESCHEDULED_TO = placement(START + timedelta(days=2), chair_id="chair-2")

# Arguments that every rule of a step accepts, so that only the transition table can refuse it.
STEPS = {
    Step.RESCHEDULE: lambda s: s.reschedule(RESCHEDULED_TO),
    Step.CANCEL: lambda s: s.cancel(
        reason=CancelReason.NO_RIDE_HOME, note=NOTE, clinic=CLINIC, now=START - timedelta(minutes=10)
    ),
    Step.CHECK_IN: lambda s: s.check_in(clinic=CLINIC, now=START - timedelta(minutes=15)),
    Step.START_TREATMENT: lambda s: s.start_treatment(
        clinic=CLINIC, now=START + timedelta(minutes=2), checkpoints_done={}
    ),
    # Treatment started 2 minutes late: its 45 minutes of monitoring after the 45-minute infusion end at START + 92.
    Step.DISCHARGE: lambda s: s.discharge(
        at=START + timedelta(minutes=95), now=START + timedelta(minutes=100), clinic=CLINIC, checkpoints_done={}
    ),
    Step.RECORD_NO_SHOW: lambda s: s.record_no_show(now=START + timedelta(minutes=30)),
}
EVENT_OF = {
    Step.RESCHEDULE: "session.rescheduled",
    Step.CANCEL: "session.cancelled",
    Step.CHECK_IN: "session.checked_in",
    Step.START_TREATMENT: "session.treatment_started",
    Step.DISCHARGE: "session.discharged",
    Step.RECORD_NO_SHOW: "session.no_show",
}
PATH_TO = {
    SessionStatus.BOOKED: [],
    SessionStatus.CHECKED_IN: [Step.CHECK_IN],
    SessionStatus.IN_TREATMENT: [Step.CHECK_IN, Step.START_TREATMENT],
    SessionStatus.DISCHARGED: [Step.CHECK_IN, Step.START_TREATMENT, Step.DISCHARGE],
    SessionStatus.CANCELLED: [Step.CANCEL],
    SessionStatus.NO_SHOW: [Step.RECORD_NO_SHOW],
}


def session_in(status: SessionStatus) -> Session:
    session = booked()
    for step in PATH_TO[status]:
        STEPS[step](session)
    assert session.status is status
    return session


def assert_ids_times_and_codes_only(events) -> None:
    for event in events:
        text = repr(event.data)
        for personal in PERSONAL:
            assert personal not in text, (event.type, personal)
        for key, value in event.data.items():
            assert value is None or isinstance(value, (str, bool, datetime)), (event.type, key, value)
            if isinstance(value, datetime):
                assert value.tzinfo is not None, (event.type, key)
        assert event.data["session_id"] == "session-1" and event.data["patient_id"] == "patient-1"
        assert event.correlation_id == "session-1"


# --- the transition table ----------------------------------------------------------------------------------------


def test_the_transition_table_is_the_documented_one():
    assert TRANSITIONS == {
        SessionStatus.BOOKED: {
            Step.RESCHEDULE: SessionStatus.BOOKED,
            Step.CANCEL: SessionStatus.CANCELLED,
            Step.CHECK_IN: SessionStatus.CHECKED_IN,
            Step.RECORD_NO_SHOW: SessionStatus.NO_SHOW,
        },
        SessionStatus.CHECKED_IN: {
            Step.START_TREATMENT: SessionStatus.IN_TREATMENT,
            Step.CANCEL: SessionStatus.CANCELLED,
        },
        SessionStatus.IN_TREATMENT: {Step.DISCHARGE: SessionStatus.DISCHARGED},
        SessionStatus.DISCHARGED: {},
        SessionStatus.CANCELLED: {},
        SessionStatus.NO_SHOW: {},
    }


ALLOWED = [(status, step) for status, step in product(SessionStatus, Step) if step in TRANSITIONS[status]]
FORBIDDEN = [(status, step) for status, step in product(SessionStatus, Step) if step not in TRANSITIONS[status]]


def test_every_status_and_step_pair_is_either_allowed_or_forbidden():
    assert len(ALLOWED) == 7
    assert len(ALLOWED) + len(FORBIDDEN) == len(SessionStatus) * len(Step) == 36


@pytest.mark.parametrize("status, step", ALLOWED, ids=[f"{a.value}-{b.value}" for a, b in ALLOWED])
def test_an_allowed_step_moves_the_session_to_the_tables_status_with_its_event(status, step):
    session = session_in(status)

    events = STEPS[step](session)

    assert [e.type for e in events] == [EVENT_OF[step]]
    assert session.status is TRANSITIONS[status][step]
    assert session.allows(step) is (step in TRANSITIONS[session.status])
    assert_ids_times_and_codes_only(events)


@pytest.mark.parametrize("status, step", FORBIDDEN, ids=[f"{a.value}-{b.value}" for a, b in FORBIDDEN])
def test_a_step_not_in_the_table_is_refused_as_transition_not_allowed_and_changes_nothing(status, step):
    session = session_in(status)
    before = copy.deepcopy(asdict(session))

    with pytest.raises(Refused) as refused:
        STEPS[step](session)

    assert refused.value.reason == "transition_not_allowed"
    assert status.value.replace("_", " ") in refused.value.message
    assert asdict(session) == before
    assert not session.allows(step)


# --- events carry ids, times and codes ---------------------------------------------------------------------------


def test_a_whole_lifecycle_gives_events_with_exactly_the_contracts_fields():
    session = booked()
    keys = {}
    for step in (Step.RESCHEDULE, Step.CHECK_IN, Step.START_TREATMENT, Step.DISCHARGE):
        now = START + timedelta(days=2)
        if step is Step.RESCHEDULE:
            events = session.reschedule(RESCHEDULED_TO)
        elif step is Step.CHECK_IN:
            events = session.check_in(clinic=CLINIC, now=now - timedelta(minutes=15))
        elif step is Step.START_TREATMENT:
            events = session.start_treatment(clinic=CLINIC, now=now, checkpoints_done={})
        else:
            events = session.discharge(
                at=now + timedelta(minutes=90), now=now + timedelta(minutes=95), clinic=CLINIC, checkpoints_done={}
            )
        assert_ids_times_and_codes_only(events)
        keys[events[0].type] = set(events[0].data)
    ids = {"session_id", "patient_id"}
    assert keys == {
        "session.rescheduled": ids
        | {
            "previous_starts_at",
            "previous_recovery_ends_at",
            "starts_at",
            "treatment_ends_at",
            "recovery_ends_at",
            "chair_id",
            "clinician_id",
            "ride_home_mode",
        },
        "session.checked_in": ids | {"checked_in_at"},
        "session.treatment_started": ids
        | {"treatment_started_at", "treatment_ends_at", "recovery_ends_at", "chair_free_at"},
        "session.discharged": ids | {"discharged_at", "planned_recovery_ends_at", "ride_home_mode"},
    }


def test_a_cancellation_event_carries_the_reason_code_but_never_the_note():
    session = booked()

    events = session.cancel(reason=CancelReason.PATIENT_UNWELL, note=NOTE, clinic=CLINIC, now=START - timedelta(days=3))

    assert dict(events[0].data) == {
        "session_id": "session-1",
        "patient_id": "patient-1",
        "reason": "patient_unwell",
        "cancelled_at": START - timedelta(days=3),
        "late_cancellation": False,
    }
    assert session.cancel_note == NOTE  # kept in the scheduler
    assert session.cancel_reason is CancelReason.PATIENT_UNWELL


# --- late cancellation -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "before_start, late",
    [
        (timedelta(days=3), False),
        (timedelta(hours=24), False),  # exactly the window: not late
        (timedelta(hours=24) - timedelta(minutes=1), True),
        (timedelta(hours=2), True),
    ],
)
def test_a_cancellation_inside_the_late_window_is_marked_late(before_start, late):
    session = booked()

    events = session.cancel(reason=CancelReason.PATIENT_REQUEST, note=None, clinic=CLINIC, now=START - before_start)

    assert session.late_cancellation is late
    assert events[0].data["late_cancellation"] is late
    assert session.cancelled_at == START - before_start
    assert session.status is SessionStatus.CANCELLED


def test_the_late_window_is_the_clinics():
    session = booked()

    session.cancel(
        reason=CancelReason.CLINIC_REQUEST,
        note=None,
        clinic=clinic(late_cancellation_hours=48),
        now=START - timedelta(hours=36),
    )

    assert session.late_cancellation is True


def test_sending_home_a_checked_in_patient_is_a_late_cancellation():
    session = session_in(SessionStatus.CHECKED_IN)

    events = session.cancel(
        reason=CancelReason.NOT_PREPARED, note=None, clinic=CLINIC, now=START + timedelta(minutes=5)
    )

    assert session.status is SessionStatus.CANCELLED
    assert (events[0].data["reason"], events[0].data["late_cancellation"]) == ("not_prepared", True)
    assert session.late_cancellation is True


# --- check-in day ------------------------------------------------------------------------------------------------


EVENING = datetime(2027, 1, 6, 0, 30, tzinfo=UTC)  # Tuesday 19:30 in New York, already Wednesday in UTC


@pytest.mark.parametrize(
    "now",
    [
        datetime(2027, 1, 5, 23, 50, tzinfo=UTC),  # Tuesday 18:50 local: a different UTC day, the same local day
        datetime(2027, 1, 5, 5, 0, tzinfo=UTC),  # Tuesday 00:00 local
        EVENING + timedelta(minutes=40),  # after the start, still Tuesday local
    ],
)
def test_a_patient_can_check_in_any_time_on_the_sessions_local_day(now):
    session = booked(EVENING)

    events = session.check_in(clinic=CLINIC, now=now)

    assert session.status is SessionStatus.CHECKED_IN
    assert session.checked_in_at == now
    assert events[0].data["checked_in_at"] == now


@pytest.mark.parametrize(
    "now",
    [
        datetime(2027, 1, 5, 4, 59, tzinfo=UTC),  # Monday 23:59 local
        datetime(2027, 1, 6, 5, 0, tzinfo=UTC),  # Wednesday 00:00 local, the same UTC day as the start
        datetime(2026, 12, 30, 15, 0, tzinfo=UTC),
    ],
)
def test_a_check_in_on_another_local_day_is_refused_as_not_session_day_and_changes_nothing(now):
    session = booked(EVENING)
    before = asdict(session)

    with pytest.raises(Refused) as refused:
        session.check_in(clinic=CLINIC, now=now)

    assert refused.value.reason == "not_session_day"
    assert asdict(session) == before


# --- discharge ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "minutes_after_start, override",
    [(40, "Dr. Patel judged her fit"), (92, None), (150, None)],
    ids=["earlier, overridden", "once monitoring is over", "later"],
)
def test_a_discharge_carries_the_actual_time_and_the_planned_end_of_recovery(minutes_after_start, override):
    session = session_in(SessionStatus.IN_TREATMENT)  # treatment started at START + 2 min
    discharged_at = START + timedelta(minutes=minutes_after_start)

    events = session.discharge(
        at=discharged_at,
        now=discharged_at + timedelta(minutes=3),
        clinic=CLINIC,
        checkpoints_done={},
        override_reason=override,
    )

    assert session.status is SessionStatus.DISCHARGED
    assert session.discharged_at == discharged_at
    assert session.recovery_ends_at == START + timedelta(minutes=92)  # the plan, as the actual start moved it
    assert session.discharge_override_reason == override
    assert dict(events[0].data) == {
        "session_id": "session-1",
        "patient_id": "patient-1",
        "discharged_at": discharged_at,
        "planned_recovery_ends_at": START + timedelta(minutes=92),
        "ride_home_mode": "escort",
    }


def test_a_discharge_may_be_recorded_at_the_moment_it_happens():
    session = session_in(SessionStatus.IN_TREATMENT)
    now = START + timedelta(minutes=92)

    session.discharge(at=now, now=now, clinic=CLINIC, checkpoints_done={})

    assert session.discharged_at == now


def test_a_discharge_in_the_future_is_an_invalid_discharged_at_and_changes_nothing():
    session = session_in(SessionStatus.IN_TREATMENT)
    before = asdict(session)

    with pytest.raises(InvalidRequest) as invalid:
        session.discharge(
            at=START + timedelta(minutes=94), now=START + timedelta(minutes=93), clinic=CLINIC, checkpoints_done={}
        )

    assert list(invalid.value.errors) == ["discharged_at"]
    assert asdict(session) == before


def test_a_discharge_before_treatment_started_is_an_invalid_discharged_at_and_changes_nothing():
    session = session_in(SessionStatus.IN_TREATMENT)  # treatment started at START + 2 min
    before = asdict(session)

    with pytest.raises(InvalidRequest) as invalid:
        session.discharge(
            at=START + timedelta(minutes=1), now=START + timedelta(minutes=100), clinic=CLINIC, checkpoints_done={}
        )

    assert list(invalid.value.errors) == ["discharged_at"]
    assert asdict(session) == before


# --- no-show -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("before_start", [timedelta(minutes=1), timedelta(hours=5), timedelta(days=2)])
def test_a_no_show_before_the_start_time_is_refused_as_not_started_yet_and_changes_nothing(before_start):
    session = booked()
    before = asdict(session)

    with pytest.raises(Refused) as refused:
        session.record_no_show(now=START - before_start)

    assert refused.value.reason == "not_started_yet"
    assert asdict(session) == before


def test_a_no_show_after_the_start_time_is_recorded_with_the_start_and_the_time_of_recording():
    session = booked()
    now = START + timedelta(minutes=20)

    events = session.record_no_show(now=now)

    assert session.status is SessionStatus.NO_SHOW
    assert session.no_show_recorded_at == now
    assert dict(events[0].data) == {
        "session_id": "session-1",
        "patient_id": "patient-1",
        "starts_at": START,
        "recorded_at": now,
    }


# --- reschedule --------------------------------------------------------------------------------------------------


def test_a_reschedule_moves_every_time_and_the_chair_and_its_event_carries_previous_and_new_times():
    session = booked()
    new = placement(START + timedelta(days=1, hours=2), chair_id="chair-2")

    events = session.reschedule(new)

    assert session.status is SessionStatus.BOOKED
    assert (session.starts_at, session.treatment_ends_at, session.recovery_ends_at, session.chair_free_at) == (
        new.starts_at,
        new.treatment_ends_at,
        new.recovery_ends_at,
        new.chair_free_at,
    )
    assert (session.chair_id, session.clinician_id) == ("chair-2", "dr-a")
    assert session.block.starts_at == new.starts_at and session.block.chair_free_at == new.chair_free_at
    assert dict(events[0].data) == {
        "session_id": "session-1",
        "patient_id": "patient-1",
        "previous_starts_at": START,
        "previous_recovery_ends_at": START + timedelta(minutes=90),
        "starts_at": new.starts_at,
        "treatment_ends_at": new.treatment_ends_at,
        "recovery_ends_at": new.recovery_ends_at,
        "chair_id": "chair-2",
        "clinician_id": "dr-a",
        "ride_home_mode": "escort",
    }


def test_a_second_reschedule_reports_the_first_reschedules_time_as_previous():
    session = booked()
    first, second = placement(START + timedelta(days=1)), placement(START + timedelta(days=2))

    session.reschedule(first)
    events = session.reschedule(second)

    assert events[0].data["previous_starts_at"] == first.starts_at
    assert events[0].data["starts_at"] == second.starts_at


# --- the use cases: one change at a time per session ----------------------------------------------------------------

RESCHEDULED_START = START + timedelta(days=2, hours=2)  # Thursday 12:00 in New York
# Each use case with arguments its step's own rules accept, so that only the session's status can refuse it.
CHANGES = {
    Step.RESCHEDULE: lambda uow: handlers.reschedule_session(
        "session-1", starts_at=RESCHEDULED_START, uow=uow, clinic=CLINIC, now=BOOKED_AT
    ),
    Step.CANCEL: lambda uow: handlers.cancel_session(
        "session-1", reason=CancelReason.PATIENT_UNWELL, uow=uow, clinic=CLINIC, now=START - timedelta(minutes=10)
    ),
    Step.CHECK_IN: lambda uow: handlers.check_in(
        "session-1", uow=uow, clinic=CLINIC, now=START - timedelta(minutes=15)
    ),
    Step.START_TREATMENT: lambda uow: handlers.start_treatment(
        "session-1", uow=uow, clinic=CLINIC, now=START + timedelta(minutes=2)
    ),
    Step.DISCHARGE: lambda uow: handlers.discharge(
        "session-1", at=START + timedelta(minutes=95), uow=uow, clinic=CLINIC, now=START + timedelta(minutes=100)
    ),
    Step.RECORD_NO_SHOW: lambda uow: handlers.record_no_show("session-1", uow=uow, now=START + timedelta(minutes=30)),
}
BEFORE = {
    Step.RESCHEDULE: SessionStatus.BOOKED,
    Step.CANCEL: SessionStatus.BOOKED,
    Step.CHECK_IN: SessionStatus.BOOKED,
    Step.START_TREATMENT: SessionStatus.CHECKED_IN,
    Step.DISCHARGE: SessionStatus.IN_TREATMENT,
    Step.RECORD_NO_SHOW: SessionStatus.BOOKED,
}


class FakeCheckpoints:
    """The checkpoints marked done, in memory."""

    def __init__(self):
        self.marks: dict[str, dict] = {}

    def add(self, mark) -> None:
        self.marks.setdefault(mark.session_id, {})[mark.checkpoint_id] = mark

    def done(self, session_id: str) -> dict:
        return dict(self.marks.get(session_id, {}))

    def done_for(self, session_ids) -> dict:
        return {session_id: self.done(session_id) for session_id in session_ids}


def unit_of_work(session: Session) -> FakeUnitOfWork:
    calls: list[str] = []
    return FakeUnitOfWork(
        sessions=FakeSessionRepository(session, calls=calls),
        patients=FakePatientRepository("patient-1", calls=calls),
        checkpoints=FakeCheckpoints(),
    )


@pytest.mark.parametrize("step", list(CHANGES), ids=[s.value for s in CHANGES])
def test_every_change_to_a_session_first_reads_it_through_the_row_lock(step):
    uow = unit_of_work(session_in(BEFORE[step]))

    answered = CHANGES[step](uow)

    assert uow.sessions.calls[0] == "lock session session-1"
    assert uow.sessions.get("session-1") == answered
    assert answered.status is TRANSITIONS[BEFORE[step]][step]
    assert [e.type for e in uow.published] == [EVENT_OF[step]]


def test_a_reschedule_locks_the_session_then_the_patient_then_the_clinic_day_so_that_no_two_changes_deadlock():
    uow = unit_of_work(booked())

    CHANGES[Step.RESCHEDULE](uow)

    assert uow.sessions.calls == ["lock session session-1", "lock patient patient-1", "lock day 2027-01-07"]


# (the step asked, what a concurrent change stored while this one waited for the lock, the status it left)
LOST_RACES = [
    (Step.RESCHEDULE, Step.CANCEL, SessionStatus.CANCELLED),
    (Step.CHECK_IN, Step.CANCEL, SessionStatus.CANCELLED),
    (Step.CANCEL, Step.RECORD_NO_SHOW, SessionStatus.NO_SHOW),
    (Step.RECORD_NO_SHOW, Step.CHECK_IN, SessionStatus.CHECKED_IN),
    (Step.START_TREATMENT, Step.CANCEL, SessionStatus.CANCELLED),
    (Step.DISCHARGE, Step.DISCHARGE, SessionStatus.DISCHARGED),
]


@pytest.mark.parametrize(
    "step, concurrent, left", LOST_RACES, ids=[f"{a.value}-after-{b.value}" for a, b, _ in LOST_RACES]
)
def test_a_change_that_a_concurrent_one_made_impossible_is_refused_and_stores_nothing(step, concurrent, left):
    uow = unit_of_work(session_in(BEFORE[step]))
    uow.sessions.concurrent_change = STEPS[concurrent]

    with pytest.raises(Refused) as refused:
        CHANGES[step](uow)

    assert refused.value.reason == "transition_not_allowed"
    assert uow.sessions.get("session-1").status is left
    assert uow.published == [] and uow.committed == 0
    assert uow.patients.intakes == []


def test_a_reschedule_that_waited_for_another_names_the_time_that_one_stored_as_previous():
    uow = unit_of_work(booked())
    uow.sessions.concurrent_change = STEPS[Step.RESCHEDULE]

    answered = CHANGES[Step.RESCHEDULE](uow)

    [event] = uow.published
    assert event.data["previous_starts_at"] == RESCHEDULED_TO.starts_at
    assert event.data["previous_recovery_ends_at"] == RESCHEDULED_TO.recovery_ends_at
    assert answered.starts_at == event.data["starts_at"] == RESCHEDULED_START
    assert uow.sessions.get("session-1") == answered


# --- the check-in gate: no treatment without a confirmed ride home ----------------------------------------------

ARRIVED = START - timedelta(minutes=15)
INTAKE = TreatmentType("intake_assessment", "Intake assessment", 60, 0, counts_as_intake=True)


def with_ride(status: str | None, event_type: str | None = None) -> Session:
    session = booked(ride_confirmed=False)
    if status is not None:
        session.record_ride(RideReport(event_type or f"ride.{status}", status, BOOKED_AT + timedelta(hours=2)))
    return session


@pytest.mark.parametrize(
    "session",
    [
        with_ride(None),
        with_ride("requested"),
        with_ride("declined"),
        with_ride("requested", "ride.at_risk"),
        with_ride("cancelled"),
    ],
    ids=["none reported", "requested", "declined", "at risk", "cancelled"],
)
def test_a_check_in_while_the_ride_home_is_not_confirmed_is_refused_as_ride_not_confirmed_and_changes_nothing(session):
    before = asdict(session)

    with pytest.raises(Refused) as refused:
        session.check_in(clinic=CLINIC, now=ARRIVED)

    assert refused.value.reason == "ride_not_confirmed"
    assert "override_reason" in refused.value.message
    assert asdict(session) == before


@pytest.mark.parametrize("status", ["confirmed", "dispatched", "completed"])
def test_a_ride_confirmed_or_already_on_its_way_lets_the_patient_check_in_without_an_override(status):
    session = with_ride(status)

    events = session.check_in(clinic=CLINIC, now=ARRIVED)

    assert [e.type for e in events] == ["session.checked_in"]
    assert session.status is SessionStatus.CHECKED_IN
    assert session.check_in_override_reason is None


def test_an_override_reason_checks_the_patient_in_without_a_confirmed_ride_and_is_kept_out_of_the_event():
    session = with_ride("declined")
    reason = "Bo Lee confirmed by phone at +14155550124"

    events = session.check_in(clinic=CLINIC, now=ARRIVED, override_reason=reason)

    assert session.status is SessionStatus.CHECKED_IN
    assert session.check_in_override_reason == reason
    assert dict(events[0].data) == {"session_id": "session-1", "patient_id": "patient-1", "checked_in_at": ARRIVED}


def test_an_override_reason_given_for_a_confirmed_ride_overrides_nothing_and_is_not_recorded():
    session = with_ride("confirmed")

    session.check_in(clinic=CLINIC, now=ARRIVED, override_reason="just in case")

    assert session.check_in_override_reason is None


def test_a_treatment_without_recovery_needs_no_ride_to_check_in():
    clinic_with_intake = replace(CLINIC, treatment_types={"intake_assessment": INTAKE})
    request = BookingRequest("session-1", "patient-1", "intake_assessment", START, RideHome(RideHomeMode.NONE))
    slot = Placement(
        "intake_assessment",
        START,
        START + INTAKE.treatment,
        START + INTAKE.in_chair,
        START + INTAKE.chair_hold,
        "chair-1",
        "dr-a",
    )
    session, _ = book(request, slot, clinic=clinic_with_intake, now=BOOKED_AT)

    session.check_in(clinic=clinic_with_intake, now=ARRIVED)

    assert session.status is SessionStatus.CHECKED_IN and session.ride_status is None


def test_a_session_booked_with_a_ride_home_keeps_its_gate_when_its_treatment_type_is_no_longer_configured():
    session = with_ride("requested")
    unconfigured = replace(CLINIC, treatment_types={})

    with pytest.raises(Refused) as refused:
        session.check_in(clinic=unconfigured, now=ARRIVED)

    assert refused.value.reason == "ride_not_confirmed"


def test_the_step_table_refuses_before_the_ride_gate_does():
    session = with_ride(None)
    session.cancel(reason=CancelReason.OTHER, note=None, clinic=CLINIC, now=BOOKED_AT)

    with pytest.raises(Refused) as refused:
        session.check_in(clinic=CLINIC, now=ARRIVED, override_reason="phone")

    assert refused.value.reason == "transition_not_allowed"


def test_the_check_in_use_case_records_the_override_through_the_row_lock():
    uow = unit_of_work(with_ride("requested", "ride.at_risk"))

    answered = handlers.check_in(
        "session-1", override_reason="Taxi booked by the desk", uow=uow, clinic=CLINIC, now=ARRIVED
    )

    assert uow.sessions.calls[0] == "lock session session-1"
    assert (
        uow.sessions.get("session-1").check_in_override_reason
        == "Taxi booked by the desk"
        == answered.check_in_override_reason
    )
    assert [e.type for e in uow.published] == ["session.checked_in"]


# --- provider mode -----------------------------------------------------------------------------------------------

PROVIDER = RideHome(RideHomeMode.PROVIDER, dropoff_address="12 Elm Street, Apt 4, Jacksonville, FL 32204")


def test_a_provider_ride_home_is_kept_with_the_session_and_its_events_name_the_mode_but_never_the_address():
    request = BookingRequest("session-1", "patient-1", "iv_infusion", START, PROVIDER)
    session, booked_events = book(request, placement(), clinic=CLINIC, now=BOOKED_AT)
    session.record_ride(RideReport("ride.confirmed", "confirmed", BOOKED_AT + timedelta(hours=1)))

    events = [*booked_events, *session.reschedule(RESCHEDULED_TO)]
    events += session.check_in(clinic=CLINIC, now=RESCHEDULED_TO.starts_at - timedelta(minutes=15))
    events += session.start_treatment(clinic=CLINIC, now=RESCHEDULED_TO.starts_at, checkpoints_done={})
    events += session.discharge(
        at=RESCHEDULED_TO.recovery_ends_at, now=RESCHEDULED_TO.recovery_ends_at, clinic=CLINIC, checkpoints_done={}
    )

    assert session.ride_home == PROVIDER
    modes = {e.type: e.data["ride_home_mode"] for e in events if "ride_home_mode" in e.data}
    assert modes == {"session.booked": "provider", "session.rescheduled": "provider", "session.discharged": "provider"}
    for event in events:
        assert "Elm" not in repr(event.data) and "32204" not in repr(event.data), event.type
