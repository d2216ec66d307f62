"""Booking rules of the scheduler: treatment and recovery in one chair, rides home, and the events they cause."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from fakes import FakeUnitOfWork
from services.scheduler import handlers
from services.scheduler.domain.clinic import Clinic, TreatmentType
from services.scheduler.domain.errors import InvalidRequest, NotFound, Refused
from services.scheduler.domain.patients import ContactChannel, Patient
from services.scheduler.domain.sessions import (
    NO_RIDE,
    BookingRequest,
    RideHome,
    RideHomeMode,
    SessionStatus,
    book,
    chair_block,
)
from unit.fakes_services import FakePatientRepository, FakeSessionRepository

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
START = datetime(2027, 1, 5, 14, 0, tzinfo=timezone.utc)
ESCORT = RideHome(RideHomeMode.ESCORT, "Bo Lee", "+14155550124")

CLINIC = Clinic(
    name="Test Clinic",
    time_zone=ZoneInfo("America/New_York"),
    chairs=("chair-a", "chair-b"),
    treatment_types={
        "iv_infusion": TreatmentType("iv_infusion", "IV ketamine infusion", 45, 45, True),
        "esketamine_nasal_spray": TreatmentType("esketamine_nasal_spray", "Esketamine nasal spray", 15, 120, True),
        "intake_assessment": TreatmentType("intake_assessment", "Intake assessment", 60, 0, False),
    },
)


def request(
    *,
    session_id: str = "session-1",
    treatment_type: str = "iv_infusion",
    starts_at: datetime = START,
    chair_id: str | None = "chair-a",
    ride_home: RideHome = ESCORT,
    patient_id: str = "patient-1",
) -> BookingRequest:
    return BookingRequest(
        session_id=session_id,
        patient_id=patient_id,
        treatment_type=treatment_type,
        starts_at=starts_at,
        ride_home=ride_home,
        chair_id=chair_id,
    )


def booked(**kwargs):
    session, _ = book(request(**kwargs), clinic=CLINIC, sessions_nearby=[], now=NOW)
    return session


# --- times follow the treatment ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "treatment_type, treatment_minutes, recovery_minutes, ride_home",
    [
        ("iv_infusion", 45, 45, ESCORT),
        ("esketamine_nasal_spray", 15, 120, ESCORT),
        ("intake_assessment", 60, 0, NO_RIDE),
    ],
)
def test_treatment_and_recovery_times_follow_the_treatment_type(treatment_type, treatment_minutes, recovery_minutes, ride_home):
    session = booked(treatment_type=treatment_type, ride_home=ride_home)

    assert session.starts_at == START
    assert session.treatment_ends_at == START + timedelta(minutes=treatment_minutes)
    assert session.recovery_ends_at == START + timedelta(minutes=treatment_minutes + recovery_minutes)
    assert session.treatment_type == treatment_type
    assert session.status is SessionStatus.BOOKED
    assert session.created_at == NOW


def test_the_chair_block_runs_from_the_start_of_treatment_to_the_end_of_recovery():
    assert chair_block(request(treatment_type="esketamine_nasal_spray"), CLINIC, now=NOW) == (START, START + timedelta(minutes=135))


# --- one chair, one patient at a time ----------------------------------------------------------------------------


def test_an_overlapping_booking_of_the_same_chair_is_refused():
    first = booked()
    # Starts during the first session's recovery: the chair is still held.
    later = request(session_id="session-2", starts_at=START + timedelta(minutes=60))

    with pytest.raises(Refused) as refused:
        book(later, clinic=CLINIC, sessions_nearby=[first], now=NOW)

    assert refused.value.reason == "chair_unavailable"
    assert "chair-a" in refused.value.message


def test_a_booking_that_ends_during_the_next_sessions_treatment_is_refused_too():
    first = booked()
    earlier = request(session_id="session-2", starts_at=START - timedelta(minutes=30))

    with pytest.raises(Refused) as refused:
        book(earlier, clinic=CLINIC, sessions_nearby=[first], now=NOW)

    assert refused.value.reason == "chair_unavailable"


def test_a_booking_starting_exactly_when_the_previous_recovery_ends_is_accepted():
    first = booked()

    second, events = book(
        request(session_id="session-2", starts_at=first.recovery_ends_at), clinic=CLINIC, sessions_nearby=[first], now=NOW
    )

    assert second.chair_id == "chair-a"
    assert second.starts_at == first.recovery_ends_at
    assert len(events) == 1


def test_a_booking_ending_exactly_when_the_next_session_starts_is_accepted():
    later = booked()

    earlier, _ = book(
        request(session_id="session-2", starts_at=START - timedelta(minutes=90)), clinic=CLINIC, sessions_nearby=[later], now=NOW
    )

    assert earlier.recovery_ends_at == later.starts_at
    assert earlier.chair_id == "chair-a"


def test_a_cancelled_session_no_longer_holds_its_chair():
    first = booked()
    first.cancel(reason=None, now=NOW)

    second, _ = book(request(session_id="session-2"), clinic=CLINIC, sessions_nearby=[first], now=NOW)

    assert second.chair_id == "chair-a"


def test_a_session_in_another_chair_does_not_hold_this_one():
    other = booked(chair_id="chair-b")

    session, _ = book(request(session_id="session-2", chair_id="chair-a"), clinic=CLINIC, sessions_nearby=[other], now=NOW)

    assert session.chair_id == "chair-a"


def test_without_a_chair_id_a_free_chair_is_picked():
    first = booked(chair_id="chair-a")

    second, events = book(request(session_id="session-2", chair_id=None), clinic=CLINIC, sessions_nearby=[first], now=NOW)

    assert second.chair_id == "chair-b"
    assert events[0].data["chair_id"] == "chair-b"


def test_without_a_chair_id_and_every_chair_taken_the_booking_is_refused_with_no_chair_available():
    taken = [booked(session_id="s-a", chair_id="chair-a"), booked(session_id="s-b", chair_id="chair-b")]

    with pytest.raises(Refused) as refused:
        book(request(session_id="session-3", chair_id=None), clinic=CLINIC, sessions_nearby=taken, now=NOW)

    assert refused.value.reason == "no_chair_available"
    assert refused.value.message


# --- invalid requests --------------------------------------------------------------------------------------------


def test_an_unknown_treatment_type_is_an_invalid_request_naming_the_field():
    with pytest.raises(InvalidRequest) as invalid:
        book(request(treatment_type="laughing_gas"), clinic=CLINIC, sessions_nearby=[], now=NOW)

    assert list(invalid.value.errors) == ["treatment_type"]
    assert "iv_infusion" in invalid.value.errors["treatment_type"][0]


def test_an_unknown_chair_is_an_invalid_request_naming_the_field():
    with pytest.raises(InvalidRequest) as invalid:
        book(request(chair_id="chair-z"), clinic=CLINIC, sessions_nearby=[], now=NOW)

    assert list(invalid.value.errors) == ["chair_id"]


@pytest.mark.parametrize("treatment_type", ["iv_infusion", "esketamine_nasal_spray"])
def test_a_ketamine_treatment_without_a_ride_home_is_refused(treatment_type):
    with pytest.raises(InvalidRequest) as invalid:
        book(request(treatment_type=treatment_type, ride_home=NO_RIDE), clinic=CLINIC, sessions_nearby=[], now=NOW)

    assert list(invalid.value.errors) == ["ride_home"]
    assert "drive" in invalid.value.errors["ride_home"][0]


def test_an_intake_needs_no_ride_home_and_records_ride_home_mode_none():
    session, events = book(request(treatment_type="intake_assessment", ride_home=ESCORT), clinic=CLINIC, sessions_nearby=[], now=NOW)

    assert session.ride_home.mode is RideHomeMode.NONE
    assert events[0].data["ride_home_mode"] == "none"


@pytest.mark.parametrize("starts_at", [NOW - timedelta(minutes=1), NOW])
def test_a_start_that_is_not_in_the_future_is_refused(starts_at):
    with pytest.raises(InvalidRequest) as invalid:
        book(request(starts_at=starts_at), clinic=CLINIC, sessions_nearby=[], now=NOW)

    assert list(invalid.value.errors) == ["starts_at"]


# --- events ------------------------------------------------------------------------------------------------------


def test_booking_returns_one_session_booked_event_with_the_contracts_data():
    session, events = book(request(), clinic=CLINIC, sessions_nearby=[], now=NOW)

    assert [e.type for e in events] == ["session.booked"]
    event = events[0]
    assert event.correlation_id == session.id
    assert event.version == 1
    assert dict(event.data) == {
        "session_id": "session-1",
        "patient_id": "patient-1",
        "treatment_type": "iv_infusion",
        "starts_at": START,
        "treatment_ends_at": START + timedelta(minutes=45),
        "recovery_ends_at": START + timedelta(minutes=90),
        "chair_id": "chair-a",
        "ride_home_mode": "escort",
    }


def test_the_booked_event_carries_no_escort_detail():
    _, events = book(request(), clinic=CLINIC, sessions_nearby=[], now=NOW)

    assert "Bo Lee" not in repr(events[0].data)
    assert "+14155550124" not in repr(events[0].data)


def test_cancelling_returns_one_session_cancelled_event_and_marks_the_session_cancelled():
    session = booked()
    cancelled_at = NOW + timedelta(hours=1)

    events = session.cancel(reason="feeling unwell", now=cancelled_at)

    assert [e.type for e in events] == ["session.cancelled"]
    assert dict(events[0].data) == {
        "session_id": "session-1",
        "patient_id": "patient-1",
        "reason": "feeling unwell",
        "cancelled_at": cancelled_at,
    }
    assert events[0].correlation_id == "session-1"
    assert session.status is SessionStatus.CANCELLED
    assert session.cancelled_at == cancelled_at
    assert session.cancel_reason == "feeling unwell"


def test_cancelling_twice_is_refused_with_not_cancellable():
    session = booked()
    session.cancel(reason=None, now=NOW)

    with pytest.raises(Refused) as refused:
        session.cancel(reason=None, now=NOW + timedelta(minutes=5))

    assert refused.value.reason == "not_cancellable"
    assert session.cancelled_at == NOW


# --- the use case, with fakes ------------------------------------------------------------------------------------


def patient(patient_id: str = "patient-1") -> Patient:
    return Patient(
        id=patient_id,
        full_name="Ann Lee",
        phone="+14155550123",
        email=None,
        preferred_channel=ContactChannel.SMS,
        created_at=NOW,
    )


def scheduler_uow(*patients: Patient) -> FakeUnitOfWork:
    return FakeUnitOfWork(patients=FakePatientRepository(*patients), sessions=FakeSessionRepository())


def test_booking_for_an_unknown_patient_is_an_invalid_request_on_patient_id_and_commits_nothing():
    uow = scheduler_uow()

    with pytest.raises(InvalidRequest) as invalid:
        handlers.book_session(request(patient_id="nobody"), uow=uow, clinic=CLINIC, now=NOW)

    assert list(invalid.value.errors) == ["patient_id"]
    assert uow.committed == 0
    assert uow.sessions.by_id == {}
    assert uow.published == []


def test_booking_stores_one_session_and_puts_one_event_in_the_outbox():
    uow = scheduler_uow(patient())

    session = handlers.book_session(request(), uow=uow, clinic=CLINIC, now=NOW)

    assert uow.committed == 1
    assert list(uow.sessions.by_id) == [session.id]
    assert uow.sessions.by_id[session.id].chair_id == "chair-a"
    assert [e.type for e in uow.published] == ["session.booked"]
    assert uow.published[0].data["session_id"] == session.id


def test_booking_locks_only_the_requested_chair_or_every_chair_when_none_is_named():
    uow = scheduler_uow(patient())

    handlers.book_session(request(session_id="s-1", chair_id="chair-b"), uow=uow, clinic=CLINIC, now=NOW)
    handlers.book_session(request(session_id="s-2", chair_id=None), uow=uow, clinic=CLINIC, now=NOW)

    assert uow.sessions.locked == [("chair-b",), ("chair-a", "chair-b")]


def test_a_refused_booking_commits_nothing():
    uow = scheduler_uow(patient())
    handlers.book_session(request(session_id="s-1"), uow=uow, clinic=CLINIC, now=NOW)

    with pytest.raises(Refused):
        handlers.book_session(request(session_id="s-2"), uow=uow, clinic=CLINIC, now=NOW)

    assert uow.committed == 1
    assert list(uow.sessions.by_id) == ["s-1"]
    assert len(uow.published) == 1


def test_cancelling_through_the_use_case_saves_the_session_and_publishes_session_cancelled():
    uow = scheduler_uow(patient())
    handlers.book_session(request(), uow=uow, clinic=CLINIC, now=NOW)

    handlers.cancel_session("session-1", reason=None, uow=uow, now=NOW)

    assert uow.sessions.by_id["session-1"].status is SessionStatus.CANCELLED
    assert [e.type for e in uow.published] == ["session.booked", "session.cancelled"]


def test_cancelling_an_unknown_session_is_not_found_and_commits_nothing():
    uow = scheduler_uow()

    with pytest.raises(NotFound):
        handlers.cancel_session("nope", reason=None, uow=uow, now=NOW)

    assert uow.committed == 0
