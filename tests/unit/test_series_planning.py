"""Planning an induction series: an even spread on fixed weekdays, one a day at most, all placed or none."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.scheduler.domain.clinic import WEEKDAYS, Clinic, Clinician, TreatmentType, WeeklyHours
from services.scheduler.domain.errors import InvalidRequest, Refused
from services.scheduler.domain.schedule import BookedBlock, PatientRecord, Placement, Schedule
from services.scheduler.domain.series import SeriesRequest, plan_series

UTC = UTC
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 12, 28, 12, 0, tzinfo=UTC)

IV = TreatmentType(
    "iv_infusion",
    "IV ketamine infusion",
    45,
    45,
    15,
    ride_home_required=True,
    intake_required=True,
    minimum_notice_minutes=720,
    booking_horizon_days=120,
    minimum_spacing_hours=20,
)
INTAKE = TreatmentType("intake_assessment", "Intake assessment", 60, 0, counts_as_intake=True)


def hours(weekday: str, saturday: str | None = "09:00-13:00") -> WeeklyHours:
    def parse(text):
        opens, closes = text.split("-")
        return ((time.fromisoformat(opens), time.fromisoformat(closes)),)

    return WeeklyHours(
        tuple(
            parse(weekday) if day in WEEKDAYS[:5] else parse(saturday) if day == "saturday" and saturday else ()
            for day in WEEKDAYS
        )
    )


def clinic(*, chairs=("chair-1", "chair-2"), closed_on=()) -> Clinic:
    opening = hours("08:00-18:00")
    return Clinic(
        name="Test Clinic",
        time_zone=NEW_YORK,
        chairs=chairs,
        treatment_types={"iv_infusion": IV, "intake_assessment": INTAKE},
        opening_hours=opening,
        clinicians=(Clinician("dr-a", "Dr. A", opening),),
        closed_on=frozenset(closed_on),
    )


def at(day: str, wall: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{wall}").replace(tzinfo=NEW_YORK).astimezone(UTC)


def block(
    starts_at: datetime,
    *,
    chair="chair-1",
    clinician: str | None = "dr-a",
    patient="patient-other",
    treatment: TreatmentType = IV,
    chair_free_at: datetime | None = None,
) -> BookedBlock:
    return BookedBlock(
        f"session-{chair}-{starts_at:%m%d%H%M}",
        patient,
        treatment.id,
        chair,
        clinician,
        starts_at,
        starts_at + treatment.treatment,
        starts_at + treatment.in_chair,
        chair_free_at or starts_at + treatment.chair_hold,
    )


def chair_taken_all_day(day: str, chair: str = "chair-1") -> BookedBlock:
    return block(at(day, "07:00"), chair=chair, clinician=None, chair_free_at=at(day, "21:00"))


def plan(
    first: datetime,
    count: int,
    within_days: int,
    *,
    the_clinic: Clinic | None = None,
    blocks=(),
    patient_blocks=(),
    intake: bool = True,
) -> list[Placement]:
    the_clinic = the_clinic or clinic()
    schedule = Schedule(the_clinic, list(blocks), now=NOW)
    patient = PatientRecord("patient-1", intake, list(patient_blocks))
    return plan_series(SeriesRequest("iv_infusion", first, count, within_days), IV, schedule=schedule, patient=patient)


def local(placements: list[Placement]) -> list[str]:
    return [p.starts_at.astimezone(NEW_YORK).isoformat() for p in placements]


def assert_each_fits_around_the_others(placements, *, the_clinic: Clinic, blocks=(), patient_blocks=()) -> None:
    """Every placement is accepted by place() on a schedule that holds all the others: chairs, clinician, spacing."""
    for index, placement in enumerate(placements):
        others = [
            block(p.starts_at, chair=p.chair_id, clinician=p.clinician_id, patient="patient-1")
            for i, p in enumerate(placements)
            if i != index
        ]
        schedule = Schedule(the_clinic, [*blocks, *others], now=NOW)
        patient = PatientRecord("patient-1", True, [*patient_blocks, *others])
        assert schedule.place(IV, placement.starts_at, patient=patient, chair_id=placement.chair_id) == placement


# --- an empty clinic ---------------------------------------------------------------------------------------------


def test_six_in_twenty_one_days_from_a_monday_land_on_mondays_and_fridays_at_the_first_sessions_time():
    placements = plan(at("2027-01-04", "10:00"), 6, 21)

    assert local(placements) == [
        "2027-01-04T10:00:00-05:00",
        "2027-01-08T10:00:00-05:00",
        "2027-01-11T10:00:00-05:00",
        "2027-01-15T10:00:00-05:00",
        "2027-01-18T10:00:00-05:00",
        "2027-01-22T10:00:00-05:00",
    ]
    assert_each_fits_around_the_others(placements, the_clinic=clinic())


@pytest.mark.parametrize("first_day", [f"2027-01-{d:02d}" for d in range(4, 10)])  # Monday to Saturday
def test_six_in_twenty_one_days_use_two_fixed_weekdays_three_times_each_at_the_same_local_time(first_day):
    placements = plan(at(first_day, "10:00"), 6, 21)

    days = [p.starts_at.astimezone(NEW_YORK).date() for p in placements]
    weekdays = [d.weekday() for d in days]
    assert len(set(days)) == 6
    assert sorted(weekdays.count(w) for w in set(weekdays)) == [3, 3]
    assert all(p.starts_at.astimezone(NEW_YORK).time() == time(10, 0) for p in placements)
    first = date.fromisoformat(first_day)
    assert days[0] == first and all(first <= d < first + timedelta(days=21) for d in days)
    assert [p.starts_at for p in placements] == sorted(p.starts_at for p in placements)


def test_a_series_across_the_spring_change_keeps_the_local_time():
    placements = plan(at("2027-03-01", "10:00"), 6, 21)

    assert local(placements) == [
        "2027-03-01T10:00:00-05:00",
        "2027-03-05T10:00:00-05:00",
        "2027-03-08T10:00:00-05:00",
        "2027-03-12T10:00:00-05:00",
        "2027-03-15T10:00:00-04:00",
        "2027-03-19T10:00:00-04:00",
    ]


# --- one a day, closed days ------------------------------------------------------------------------------------


def test_a_session_a_day_fills_every_open_day_of_the_window():
    placements = plan(at("2027-01-04", "10:00"), 5, 5)

    assert local(placements) == [f"2027-01-{d:02d}T10:00:00-05:00" for d in range(4, 9)]


def test_more_sessions_than_open_days_are_never_doubled_up_on_one_day():
    # Saturday, Sunday (closed), Monday: only two open days for three sessions.
    with pytest.raises(Refused) as refused:
        plan(at("2027-01-09", "10:00"), 3, 3)

    assert refused.value.reason == "series_not_placeable"
    placed = refused.value.details["placed"]
    assert sorted(local(placed)) == ["2027-01-09T10:00:00-05:00", "2027-01-11T10:00:00-05:00"]
    assert len(refused.value.details["unplaced"]) == 1


def test_more_sessions_than_days_is_an_invalid_count():
    with pytest.raises(InvalidRequest) as invalid:
        plan(at("2027-01-04", "10:00"), 8, 7)

    assert list(invalid.value.errors) == ["count"]


def test_a_session_due_on_a_closure_day_moves_to_the_nearest_open_day():
    placements = plan(at("2027-01-04", "10:00"), 6, 21, the_clinic=clinic(closed_on=(date(2027, 1, 8),)))

    assert local(placements) == [
        "2027-01-04T10:00:00-05:00",
        "2027-01-07T10:00:00-05:00",  # Friday the 8th is closed: Thursday, the nearer of Thursday and Saturday
        "2027-01-11T10:00:00-05:00",
        "2027-01-15T10:00:00-05:00",
        "2027-01-18T10:00:00-05:00",
        "2027-01-22T10:00:00-05:00",
    ]


def test_a_session_due_on_a_sunday_moves_to_the_nearest_open_day():
    placements = plan(at("2027-01-06", "10:00"), 2, 7)  # Wednesday, then day 4: Sunday

    assert local(placements) == ["2027-01-06T10:00:00-05:00", "2027-01-09T10:00:00-05:00"]


# --- existing sessions: chairs and the patient's spacing ---------------------------------------------------------


def test_the_series_fits_around_other_patients_sessions_in_the_only_chair():
    taken = [block(at("2027-01-04", "10:00")), block(at("2027-01-08", "09:30"), clinician=None)]
    one_chair = clinic(chairs=("chair-1",))

    placements = plan(at("2027-01-04", "10:00"), 6, 21, the_clinic=one_chair, blocks=taken)

    # Monday 10:00 is taken until 11:45: 08:15 and 11:45 are both 105 minutes away, the earlier wins.
    # Friday's 09:30 session holds the chair until 11:15: the nearest free start to 10:00 is 11:15.
    assert local(placements)[:2] == ["2027-01-04T08:15:00-05:00", "2027-01-08T11:15:00-05:00"]
    assert all(p.starts_at.astimezone(NEW_YORK).time() == time(10, 0) for p in placements[2:])
    assert_each_fits_around_the_others(placements, the_clinic=one_chair, blocks=taken)


def test_the_series_keeps_the_patients_spacing_from_a_treatment_already_booked():
    own = block(at("2027-01-08", "09:00"), chair="chair-2", patient="patient-1")

    placements = plan(at("2027-01-04", "10:00"), 6, 21, blocks=[own], patient_blocks=[own])

    days = [p.starts_at.astimezone(NEW_YORK).date() for p in placements]
    assert date(2027, 1, 8) not in days
    assert local(placements)[1] == "2027-01-07T10:00:00-05:00"  # 23 hours before the Friday infusion
    assert all(abs(p.starts_at - own.starts_at) >= timedelta(hours=20) for p in placements)
    assert_each_fits_around_the_others(placements, the_clinic=clinic(), blocks=[own], patient_blocks=[own])


def test_the_series_does_not_land_on_top_of_the_patients_own_intake():
    intake = block(at("2027-01-04", "10:00"), chair="chair-2", treatment=INTAKE, patient="patient-1")

    placements = plan(at("2027-01-04", "10:00"), 2, 7, blocks=[intake], patient_blocks=[intake])

    # The intake runs 10:00-11:00 and is not spaced from treatments: the infusion starts right after it
    # (60 minutes from 10:00), rather than ending right before it (08:30, 90 minutes away).
    assert local(placements)[0] == "2027-01-04T11:00:00-05:00"


def test_sessions_of_the_series_are_spaced_from_each_other_when_one_has_to_move():
    one_chair = clinic(chairs=("chair-1",))
    morning_taken = block(at("2027-01-04", "07:00"), clinician=None, chair_free_at=at("2027-01-04", "15:00"))

    placements = plan(at("2027-01-04", "10:00"), 2, 2, the_clinic=one_chair, blocks=[morning_taken])

    # Monday can only start at 15:00; Tuesday 10:00 would be 19 hours later, so 11:00 (20 hours) is the nearest.
    assert local(placements) == ["2027-01-04T15:00:00-05:00", "2027-01-05T11:00:00-05:00"]
    assert_each_fits_around_the_others(placements, the_clinic=one_chair, blocks=[morning_taken])


# --- all or nothing ----------------------------------------------------------------------------------------------


def test_a_nearly_full_clinic_refuses_the_whole_series_with_what_fits_and_alternatives_after_the_window():
    one_chair = clinic(chairs=("chair-1",))
    full = [chair_taken_all_day(day) for day in ("2027-01-05", "2027-01-07", "2027-01-08", "2027-01-09", "2027-01-11")]

    with pytest.raises(Refused) as refused:
        plan(at("2027-01-04", "10:00"), 3, 7, the_clinic=one_chair, blocks=full)

    assert refused.value.reason == "series_not_placeable"
    assert "2 of the 3" in refused.value.message and "none was booked" in refused.value.message
    details = refused.value.details
    assert set(details) == {"placed", "unplaced"}
    assert local(details["placed"]) == ["2027-01-04T10:00:00-05:00", "2027-01-06T10:00:00-05:00"]
    assert all(isinstance(p, Placement) for p in details["placed"])
    [unplaced] = details["unplaced"]
    assert unplaced["preferred_starts_at"] == at("2027-01-09", "10:00")  # day 5 of 7 (4.67 rounded)
    # After the window (which ends on Sunday the 10th), skipping the full Monday the 11th.
    assert unplaced["alternatives"] == [at("2027-01-12", "10:00"), at("2027-01-13", "10:00"), at("2027-01-14", "10:00")]


def test_alternatives_respect_the_sessions_that_could_be_placed():
    one_chair = clinic(chairs=("chair-1",))
    full = [chair_taken_all_day(f"2027-01-{d:02d}") for d in (5, 6, 7, 8, 9)]

    with pytest.raises(Refused) as refused:
        plan(at("2027-01-04", "17:00"), 2, 7, the_clinic=one_chair, blocks=full)

    [placed] = refused.value.details["placed"]
    assert local([placed]) == ["2027-01-04T16:30:00-05:00"]  # the latest start whose recovery ends by 18:00
    [unplaced] = refused.value.details["unplaced"]
    alternatives = unplaced["alternatives"]
    assert len(alternatives) == 3
    assert all(a >= at("2027-01-11", "00:00") for a in alternatives)
    assert all(a - placed.starts_at >= timedelta(hours=20) for a in alternatives)
    assert [a.astimezone(NEW_YORK).strftime("%a %H:%M") for a in alternatives] == [
        "Mon 16:30",
        "Tue 16:30",
        "Wed 16:30",
    ]


def test_with_no_room_at_all_nothing_is_placed_and_each_unplaced_session_is_listed():
    one_chair = clinic(chairs=("chair-1",))
    full = [chair_taken_all_day(f"2027-01-{d:02d}") for d in range(4, 25) if date(2027, 1, d).weekday() != 6]

    with pytest.raises(Refused) as refused:
        plan(at("2027-01-04", "10:00"), 3, 7, the_clinic=one_chair, blocks=full)

    assert refused.value.details["placed"] == []
    assert [u["preferred_starts_at"] for u in refused.value.details["unplaced"]] == [
        at("2027-01-04", "10:00"),
        at("2027-01-06", "10:00"),
        at("2027-01-09", "10:00"),
    ]
    assert all(u["alternatives"] == [] for u in refused.value.details["unplaced"])


def test_a_patient_without_an_intake_is_refused_as_intake_required_not_as_a_full_clinic():
    # An empty clinic: the only thing in the way is the missing intake, and the answer must say so.
    with pytest.raises(Refused) as refused:
        plan(at("2027-01-04", "10:00"), 6, 21, intake=False)

    assert refused.value.reason == "intake_required"
