"""Booking a session in the placement the schedule found: its times, the ride home rule, and the session.booked event."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import IntegrityError

from services.scheduler.adapters.repositories import _conflicts_as_concurrent_change
from services.scheduler.domain.clinic import WEEKDAYS, Clinic, Clinician, TreatmentType, WeeklyHours
from services.scheduler.domain.errors import ConcurrentChange, InvalidRequest, Refused
from services.scheduler.domain.schedule import PatientRecord, Placement, Schedule
from services.scheduler.domain.sessions import (
    NO_RIDE,
    BookingRequest,
    RideHome,
    RideHomeMode,
    SessionStatus,
    book,
    ride_home_for,
)

UTC = UTC
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
START = datetime(2027, 1, 5, 14, 0, tzinfo=UTC)  # Tuesday 09:00 in New York
ESCORT = RideHome(RideHomeMode.ESCORT, "Bo Lee", "+14155550124")

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
SPRAY = TreatmentType(
    "esketamine_nasal_spray",
    "Esketamine nasal spray",
    15,
    120,
    15,
    ride_home_required=True,
    intake_required=True,
    minimum_spacing_hours=20,
)
INTAKE = TreatmentType("intake_assessment", "Intake assessment", 60, 0, counts_as_intake=True)
TYPES = {t.id: t for t in (IV, SPRAY, INTAKE)}


def weekdays(opens: str, closes: str) -> WeeklyHours:
    hours = ((time.fromisoformat(opens), time.fromisoformat(closes)),)
    return WeeklyHours(tuple(hours if day not in ("saturday", "sunday") else () for day in WEEKDAYS))


def clinic(chairs: tuple[str, ...] = ("chair-a", "chair-b")) -> Clinic:
    return Clinic(
        name="Test Clinic",
        time_zone=NEW_YORK,
        chairs=chairs,
        treatment_types=TYPES,
        opening_hours=weekdays("08:00", "18:00"),
        clinicians=(Clinician("dr-a", "Dr. Anika Patel", weekdays("08:00", "18:00")),),
    )


CLINIC = clinic()


def request(
    *,
    session_id: str = "session-1",
    patient_id: str = "patient-1",
    treatment_type: str = "iv_infusion",
    starts_at: datetime = START,
    ride_home: RideHome = ESCORT,
    chair_id: str | None = None,
    series_id: str | None = None,
) -> BookingRequest:
    return BookingRequest(
        session_id, patient_id, treatment_type, starts_at, ride_home, chair_id=chair_id, series_id=series_id
    )


def placement_for(booking: BookingRequest, *, the_clinic: Clinic = CLINIC, blocks=()) -> Placement:
    return Schedule(the_clinic, blocks, now=NOW).place(
        TYPES[booking.treatment_type],
        booking.starts_at,
        patient=PatientRecord(booking.patient_id, True),
        chair_id=booking.chair_id,
    )


def booked(booking: BookingRequest | None = None, **kwargs):
    booking = booking or request(**kwargs)
    return book(booking, placement_for(booking), clinic=CLINIC, now=NOW)


# --- the session takes its times from the placement -----------------------------------------------------------------


@pytest.mark.parametrize(
    "treatment_type, treatment, recovery, turnover, ride_home",
    [
        ("iv_infusion", 45, 45, 15, ESCORT),
        ("esketamine_nasal_spray", 15, 120, 15, ESCORT),
        ("intake_assessment", 60, 0, 0, NO_RIDE),
    ],
)
def test_a_booked_session_has_the_treatment_types_treatment_recovery_and_turnover(
    treatment_type, treatment, recovery, turnover, ride_home
):
    session, _ = booked(treatment_type=treatment_type, ride_home=ride_home)

    assert session.treatment_type == treatment_type
    assert session.starts_at == START
    assert session.treatment_ends_at - START == timedelta(minutes=treatment)
    assert session.recovery_ends_at - START == timedelta(minutes=treatment + recovery)
    assert session.chair_free_at - START == timedelta(minutes=treatment + recovery + turnover)
    assert session.status is SessionStatus.BOOKED
    assert session.created_at == NOW


def test_the_session_uses_the_placements_chair_and_clinician_and_keeps_the_series():
    booking = request(chair_id="chair-b", series_id="series-7")

    session, _ = book(booking, placement_for(booking), clinic=CLINIC, now=NOW)

    assert (session.chair_id, session.clinician_id, session.series_id) == ("chair-b", "dr-a", "series-7")
    assert (session.id, session.patient_id) == ("session-1", "patient-1")
    assert session.checked_in_at is session.cancelled_at is session.discharged_at is None


def test_the_sessions_block_is_what_the_schedule_counts_as_taken():
    session, _ = booked(chair_id="chair-a")
    one_chair = clinic(chairs=("chair-a",))

    block = session.block

    assert (block.session_id, block.patient_id, block.chair_id, block.clinician_id) == (
        "session-1",
        "patient-1",
        "chair-a",
        "dr-a",
    )
    assert (block.starts_at, block.treatment_ends_at, block.recovery_ends_at, block.chair_free_at) == (
        session.starts_at,
        session.treatment_ends_at,
        session.recovery_ends_at,
        session.chair_free_at,
    )
    schedule = Schedule(one_chair, [block], now=NOW)
    with pytest.raises(Refused) as refused:
        schedule.place(INTAKE, session.recovery_ends_at)  # the chair is being cleaned
    assert refused.value.reason == "no_chair_available"
    assert schedule.place(INTAKE, session.chair_free_at).chair_id == "chair-a"


def test_an_unknown_treatment_type_is_an_invalid_request_naming_the_known_ones():
    placement = placement_for(request())

    with pytest.raises(InvalidRequest) as invalid:
        book(request(treatment_type="laughing_gas"), placement, clinic=CLINIC, now=NOW)

    assert list(invalid.value.errors) == ["treatment_type"]
    assert "iv_infusion" in invalid.value.errors["treatment_type"][0]


# --- ride home ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("treatment_type", ["iv_infusion", "esketamine_nasal_spray"])
def test_a_treatment_with_recovery_cannot_be_booked_without_a_ride_home(treatment_type):
    booking = request(treatment_type=treatment_type, ride_home=NO_RIDE)

    with pytest.raises(InvalidRequest) as invalid:
        book(booking, placement_for(booking), clinic=CLINIC, now=NOW)

    assert list(invalid.value.errors) == ["ride_home"]
    assert "drive" in invalid.value.errors["ride_home"][0]


def test_a_treatment_with_recovery_keeps_the_escort_on_the_session():
    session, events = booked(treatment_type="esketamine_nasal_spray", ride_home=ESCORT)

    assert session.ride_home == ESCORT
    assert events[0].data["ride_home_mode"] == "escort"


def test_an_intake_needs_no_ride_home_and_drops_any_escort_given():
    session, events = booked(treatment_type="intake_assessment", ride_home=ESCORT)

    assert session.ride_home == NO_RIDE
    assert session.ride_home.escort_name is None and session.ride_home.escort_phone is None
    assert events[0].data["ride_home_mode"] == "none"


def test_the_ride_home_rule_alone_answers_the_same_as_booking():
    assert ride_home_for(IV, ESCORT) == ESCORT
    assert ride_home_for(INTAKE, ESCORT) == NO_RIDE
    assert ride_home_for(INTAKE, NO_RIDE) == NO_RIDE
    with pytest.raises(InvalidRequest) as invalid:
        ride_home_for(SPRAY, NO_RIDE)
    assert list(invalid.value.errors) == ["ride_home"]


def test_a_provider_ride_home_is_kept_with_its_address_and_one_without_an_address_is_refused():
    provider = RideHome(RideHomeMode.PROVIDER, dropoff_address="12 Elm Street, Jacksonville, FL 32204")

    session, events = booked(ride_home=provider)

    assert session.ride_home == provider
    assert events[0].data["ride_home_mode"] == "provider"
    assert "Elm" not in repr(events[0].data)
    with pytest.raises(InvalidRequest) as invalid:
        ride_home_for(IV, RideHome(RideHomeMode.PROVIDER))
    assert invalid.value.errors == {"ride_home": ["A provider ride needs a drop-off address."]}


# --- the session.booked event ------------------------------------------------------------------------------------


def test_booking_gives_one_session_booked_event_with_ids_times_and_codes_only():
    booking = request(chair_id="chair-b", series_id="series-7")

    session, events = book(booking, placement_for(booking), clinic=CLINIC, now=NOW)

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
        "chair_id": "chair-b",
        "clinician_id": "dr-a",
        "series_id": "series-7",
        "ride_home_mode": "escort",
    }


def test_the_booked_event_names_nobody_and_gives_no_phone_number():
    _, events = booked()

    text = repr(events[0].data)
    for personal in ("Bo Lee", "+14155550124", "Anika", "Patel"):
        assert personal not in text
    assert all(isinstance(v, (str, datetime)) or v is None for v in events[0].data.values())


def test_a_booked_event_outside_a_series_says_so_with_a_null_series_id():
    _, events = booked()

    assert events[0].data["series_id"] is None


# --- a booking that loses a race ------------------------------------------------------------------------------------


class ExclusionViolation(Exception):
    """What psycopg raises for a refused overlap: the message quotes the conflicting rows' values (DETAIL)."""

    sqlstate = "23P01"


def test_a_booking_that_lost_a_race_is_described_by_its_sqlstate_without_the_rows_the_database_quoted():
    detail = (
        'conflicting key value violates exclusion constraint "sessions_patient_not_double_booked"\n'
        "DETAIL:  Key (patient_id, tstzrange(starts_at, recovery_ends_at))=(patient-1, "
        '["2027-01-05 14:00:00+00","2027-01-05 15:30:00+00")) conflicts with existing key'
    )
    error = IntegrityError("INSERT INTO sessions ...", {"patient_id": "patient-1"}, ExclusionViolation(detail))

    with pytest.raises(ConcurrentChange) as lost:
        with _conflicts_as_concurrent_change():
            raise error

    described = str(lost.value)
    assert "23P01" in described and "IntegrityError" in described
    for leaked in ("patient-1", "2027-01-05", "DETAIL", "INSERT"):
        assert leaked not in described
