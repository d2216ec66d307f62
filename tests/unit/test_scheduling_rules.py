"""Where a session fits: every rule of Schedule.place, its reason, and open_starts listing exactly what place accepts."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.scheduler.domain.clinic import WEEKDAYS, Clinic, Clinician, TreatmentType, WeeklyHours
from services.scheduler.domain.errors import InvalidRequest, Refused
from services.scheduler.domain.schedule import BookedBlock, PatientRecord, Placement, Schedule, Timeline

UTC = UTC
NEW_YORK = ZoneInfo("America/New_York")

IV = TreatmentType(
    "iv_infusion",
    "IV ketamine infusion",
    45,
    45,
    turnover_minutes=15,
    ride_home_required=True,
    intake_required=True,
    minimum_spacing_hours=20,
)
SPRAY = TreatmentType(
    "esketamine_nasal_spray",
    "Esketamine nasal spray",
    15,
    120,
    turnover_minutes=15,
    ride_home_required=True,
    intake_required=True,
    minimum_spacing_hours=20,
)
INTAKE = TreatmentType("intake_assessment", "Intake assessment", 60, 0, counts_as_intake=True)

# Monday 2027-01-04 06:00 in New York, before opening. Tuesday the 5th and Wednesday the 6th are ordinary days.
NOW = datetime(2027, 1, 4, 11, 0, tzinfo=UTC)
MON, TUE, WED, THU, FRI, SAT, SUN = (f"2027-01-{day:02d}" for day in range(4, 11))


# --- building clinics and schedules in code ----------------------------------------------------------------------


def interval(text: str) -> tuple[time, time]:
    opens, closes = text.split("-")
    return time.fromisoformat(opens), time.fromisoformat(closes)


def weekly(**days: list[str]) -> WeeklyHours:
    unknown = set(days) - set(WEEKDAYS)
    assert not unknown, unknown
    return WeeklyHours(tuple(tuple(interval(text) for text in days.get(day, [])) for day in WEEKDAYS))


def every_day(*intervals: str) -> WeeklyHours:
    return weekly(**{day: list(intervals) for day in WEEKDAYS})


OPENING = weekly(
    monday=["08:00-18:00"],
    tuesday=["08:00-18:00"],
    wednesday=["08:00-18:00"],
    thursday=["08:00-20:00"],
    friday=["08:00-18:00"],
    saturday=["09:00-13:00"],
)


def clinic(
    *,
    chairs: tuple[str, ...] = ("chair-1", "chair-2"),
    opening: WeeklyHours = OPENING,
    clinicians: tuple[Clinician, ...] | None = None,
    types: tuple[TreatmentType, ...] = (IV, SPRAY, INTAKE),
    zone: ZoneInfo = NEW_YORK,
    slot_minutes: int = 15,
    closed_on: tuple[date, ...] = (),
) -> Clinic:
    return Clinic(
        name="Test Clinic",
        time_zone=zone,
        chairs=chairs,
        treatment_types={t.id: t for t in types},
        opening_hours=opening,
        clinicians=clinicians if clinicians is not None else (Clinician("dr-a", "Dr. A", opening),),
        slot_minutes=slot_minutes,
        closed_on=frozenset(closed_on),
    )


def at(day: str, wall: str, zone: ZoneInfo = NEW_YORK) -> datetime:
    """A wall time in the clinic's zone (the first one when it repeats), as a UTC instant."""
    return datetime.fromisoformat(f"{day}T{wall}").replace(tzinfo=zone).astimezone(UTC)


def block(
    treatment: TreatmentType,
    starts_at: datetime,
    *,
    chair: str = "chair-1",
    clinician: str | None = "dr-a",
    patient: str = "patient-other",
) -> BookedBlock:
    return BookedBlock(
        session_id=f"session-{chair}-{starts_at:%Y%m%d%H%M}",
        patient_id=patient,
        treatment_type=treatment.id,
        chair_id=chair,
        clinician_id=clinician,
        starts_at=starts_at,
        treatment_ends_at=starts_at + treatment.treatment,
        recovery_ends_at=starts_at + treatment.in_chair,
        chair_free_at=starts_at + treatment.chair_hold,
    )


def patient(*blocks: BookedBlock, intake: bool = True) -> PatientRecord:
    return PatientRecord("patient-1", intake_completed=intake, blocks=list(blocks))


def schedule(*blocks: BookedBlock, now: datetime = NOW, **clinic_options) -> Schedule:
    return Schedule(clinic(**clinic_options), blocks, now=now)


def refusal(schedule: Schedule, treatment: TreatmentType, starts_at: datetime, **options) -> str:
    with pytest.raises(Refused) as refused:
        schedule.place(treatment, starts_at, **options)
    assert refused.value.message
    return refused.value.reason


def invalid_fields(schedule: Schedule, treatment: TreatmentType, starts_at: datetime, **options) -> dict:
    with pytest.raises(InvalidRequest) as invalid:
        schedule.place(treatment, starts_at, **options)
    assert all(messages and all(m for m in messages) for messages in invalid.value.errors.values())
    return invalid.value.errors


def starts(placements: list[Placement], zone: ZoneInfo = NEW_YORK) -> list[str]:
    return [p.starts_at.astimezone(zone).isoformat() for p in placements]


def assert_open_starts_are_exactly_what_place_accepts(
    schedule: Schedule, treatment: TreatmentType, window_from: datetime, window_to: datetime, **options
) -> list[Placement]:
    """Tries every five-minute instant of the window with place(); open_starts must list exactly the accepted ones."""
    listed = schedule.open_starts(treatment, window_from, window_to, **options)
    assert [p.starts_at for p in listed] == sorted({p.starts_at for p in listed}), "sorted, without duplicates"
    accepted = {}
    candidate = window_from
    while candidate < window_to:
        try:
            accepted[candidate] = schedule.place(treatment, candidate, **options)
        except (Refused, InvalidRequest):
            pass
        candidate += timedelta(minutes=5)
    listed_by_start = {p.starts_at: p for p in listed}
    assert sorted(set(accepted) - set(listed_by_start)) == [], "accepted by place() but not listed"
    assert sorted(set(listed_by_start) - set(accepted)) == [], "listed but refused by place()"
    assert listed_by_start == accepted
    return listed


# --- a valid placement -------------------------------------------------------------------------------------------


def test_a_placement_holds_the_chair_for_treatment_recovery_and_turnover_and_the_clinician_for_the_treatment():
    placement = schedule().place(IV, at(TUE, "09:00"), patient=patient())

    assert placement == Placement(
        treatment_type="iv_infusion",
        starts_at=at(TUE, "09:00"),
        treatment_ends_at=at(TUE, "09:45"),
        recovery_ends_at=at(TUE, "10:30"),
        chair_free_at=at(TUE, "10:45"),
        chair_id="chair-1",
        clinician_id="dr-a",
    )


# --- time of the request: past, horizon, grid --------------------------------------------------------------------


@pytest.mark.parametrize("starts_at", [NOW - timedelta(minutes=15), NOW])
def test_a_start_that_is_not_in_the_future_is_an_invalid_starts_at(starts_at):
    assert list(invalid_fields(schedule(), INTAKE, starts_at)) == ["starts_at"]


def test_the_booking_horizon_allows_exactly_horizon_days_ahead_and_not_a_slot_more():
    week_ahead = TreatmentType("intake_assessment", "Intake assessment", 60, 0, booking_horizon_days=7)
    now = at(MON, "08:00")
    the_schedule = schedule(now=now, types=(week_ahead,))

    assert the_schedule.place(week_ahead, at("2027-01-11", "08:00")).starts_at == now + timedelta(days=7)
    errors = invalid_fields(the_schedule, week_ahead, at("2027-01-11", "08:15"))
    assert list(errors) == ["starts_at"]
    assert "7 days" in errors["starts_at"][0]
    listed = the_schedule.open_starts(week_ahead, at("2027-01-10", "00:00"), at("2027-01-12", "00:00"))
    assert starts(listed) == ["2027-01-11T08:00:00-05:00"]


@pytest.mark.parametrize("wall", ["09:05", "09:10", "09:50", "09:15:30"])
def test_a_start_off_the_fifteen_minute_grid_is_an_invalid_starts_at(wall):
    assert list(invalid_fields(schedule(), INTAKE, at(TUE, wall))) == ["starts_at"]


def test_the_grid_is_in_clinic_time_even_when_the_zone_is_not_a_whole_hour_from_utc():
    kolkata = ZoneInfo("Asia/Kolkata")  # UTC+05:30
    the_schedule = schedule(zone=kolkata, slot_minutes=60, now=datetime(2027, 1, 3, tzinfo=UTC))

    assert the_schedule.place(INTAKE, at(TUE, "09:00", kolkata)).starts_at == datetime(2027, 1, 5, 3, 30, tzinfo=UTC)
    assert list(invalid_fields(the_schedule, INTAKE, datetime(2027, 1, 5, 4, 0, tzinfo=UTC))) == ["starts_at"]
    listed = the_schedule.open_starts(INTAKE, at(TUE, "00:00", kolkata), at(WED, "00:00", kolkata))
    assert [p.starts_at.astimezone(kolkata).strftime("%H:%M") for p in listed] == [
        f"{hour:02d}:00" for hour in range(8, 18)
    ]


# --- the patient: intake, overlap, spacing -----------------------------------------------------------------------


@pytest.mark.parametrize("treatment", [IV, SPRAY])
def test_a_treatment_that_needs_an_intake_is_refused_without_one(treatment):
    assert refusal(schedule(), treatment, at(TUE, "09:00"), patient=patient(intake=False)) == "intake_required"
    assert schedule().place(treatment, at(TUE, "09:00"), patient=patient(intake=True)).starts_at == at(TUE, "09:00")


def test_the_intake_itself_needs_no_intake():
    assert schedule().place(INTAKE, at(TUE, "09:00"), patient=patient(intake=False)).starts_at == at(TUE, "09:00")


def test_a_patient_cannot_be_in_two_sessions_at_once_even_in_different_chairs():
    intake = block(INTAKE, at(TUE, "10:30"), chair="chair-2", clinician=None, patient="patient-1")
    the_schedule = schedule(intake)
    record = patient(intake)

    assert refusal(the_schedule, IV, at(TUE, "11:15"), patient=record) == "patient_overlap"
    assert refusal(the_schedule, IV, at(TUE, "09:15"), patient=record) == "patient_overlap"  # recovery runs into it
    assert the_schedule.place(IV, at(TUE, "09:00"), patient=record).recovery_ends_at == intake.starts_at
    assert the_schedule.place(IV, at(TUE, "11:30"), patient=record).starts_at == intake.recovery_ends_at


def test_the_patient_is_busy_until_the_end_of_recovery_but_not_during_the_turnover():
    infusion = block(IV, at(TUE, "09:00"), chair="chair-1", patient="patient-1")
    the_schedule = schedule(infusion)

    assert refusal(the_schedule, INTAKE, at(TUE, "10:15"), patient=patient(infusion)) == "patient_overlap"
    placement = the_schedule.place(INTAKE, at(TUE, "10:30"), patient=patient(infusion))
    assert placement.chair_id == "chair-2"  # chair-1 is being cleaned until 10:45


def test_two_treatments_of_a_patient_must_start_the_spacing_apart_in_both_directions():
    infusion = block(IV, at(TUE, "13:00"), patient="patient-1")
    the_schedule = schedule(infusion)
    record = patient(infusion)

    assert refusal(the_schedule, IV, at(WED, "08:45"), patient=record) == "patient_spacing"  # 19 h 45 min after
    assert the_schedule.place(IV, at(WED, "09:00"), patient=record).starts_at == at(WED, "09:00")  # exactly 20 h
    assert refusal(the_schedule, SPRAY, at(TUE, "16:00"), patient=record) == "patient_spacing"  # same day
    assert (
        refusal(the_schedule, IV, at(MON, "16:30"), patient=patient(block(IV, at(TUE, "12:15"), patient="patient-1")))
        == "patient_spacing"
    )  # 19 h 45 min before
    assert the_schedule.place(
        IV, at(MON, "16:30"), patient=patient(block(IV, at(TUE, "12:30"), patient="patient-1"))
    ).starts_at == at(MON, "16:30")  # exactly 20 h before
    assert the_schedule.place(IV, at(WED, "08:45"), patient=patient()).starts_at == at(
        WED, "08:45"
    )  # others' don't count


def test_spacing_is_exactly_the_minimum_and_not_a_slot_less():
    daily = TreatmentType("iv_infusion", "IV ketamine infusion", 45, 45, 15, True, True, minimum_spacing_hours=24)
    infusion = block(daily, at(TUE, "08:15"), patient="patient-1")
    the_schedule = schedule(infusion, types=(daily, SPRAY, INTAKE))

    assert refusal(the_schedule, daily, at(WED, "08:00"), patient=patient(infusion)) == "patient_spacing"
    assert the_schedule.place(daily, at(WED, "08:15"), patient=patient(infusion)).starts_at == at(WED, "08:15")


def test_the_spacing_between_two_treatments_is_the_larger_of_their_two_minimums():
    two_days = TreatmentType(
        "esketamine_nasal_spray", "Esketamine nasal spray", 15, 120, 15, True, True, minimum_spacing_hours=48
    )
    infusion = block(IV, at(MON, "09:00"), patient="patient-1")
    the_schedule = schedule(infusion, types=(IV, two_days, INTAKE))

    assert refusal(the_schedule, two_days, at(WED, "08:45"), patient=patient(infusion)) == "patient_spacing"
    assert the_schedule.place(two_days, at(WED, "09:00"), patient=patient(infusion)).starts_at == at(WED, "09:00")
    spray = block(two_days, at(MON, "09:00"), patient="patient-1")  # the other way round: the 20 h treatment is new
    assert refusal(the_schedule, IV, at(WED, "08:45"), patient=patient(spray)) == "patient_spacing"
    assert the_schedule.place(IV, at(WED, "09:00"), patient=patient(spray)).starts_at == at(WED, "09:00")


def test_an_intake_is_not_spaced_from_treatments_either_way():
    infusion = block(IV, at(TUE, "09:00"), patient="patient-1")
    intake = block(INTAKE, at(WED, "09:00"), chair="chair-2", patient="patient-1")

    after_infusion = schedule(infusion).place(INTAKE, at(TUE, "10:30"), patient=patient(infusion))
    infusion_after_intake = schedule(intake).place(IV, at(WED, "10:00"), patient=patient(intake))

    assert after_infusion.starts_at == at(TUE, "10:30")
    assert infusion_after_intake.starts_at == at(WED, "10:00")


def test_another_patients_sessions_do_not_count_for_overlap_or_spacing():
    someone_else = block(IV, at(TUE, "09:00"), chair="chair-2", clinician=None, patient="patient-other")

    placement = schedule(someone_else).place(IV, at(TUE, "09:00"), patient=patient())

    assert placement.chair_id == "chair-1"


# --- opening hours -----------------------------------------------------------------------------------------------


def test_treatment_and_recovery_must_end_by_closing_but_the_turnover_may_run_past_it():
    the_schedule = schedule()

    placement = the_schedule.place(IV, at(TUE, "16:30"))
    assert placement.recovery_ends_at == at(TUE, "18:00")
    assert placement.chair_free_at == at(TUE, "18:15")
    assert refusal(the_schedule, IV, at(TUE, "16:45")) == "clinic_closed"
    assert refusal(the_schedule, SPRAY, at(TUE, "16:00")) == "clinic_closed"  # 15 + 120 minutes: ends 18:15
    assert the_schedule.place(SPRAY, at(TUE, "15:45")).recovery_ends_at == at(TUE, "18:00")


def test_a_session_cannot_start_before_opening():
    assert refusal(schedule(), INTAKE, at(TUE, "07:45")) == "clinic_closed"
    assert schedule().place(INTAKE, at(TUE, "08:00")).starts_at == at(TUE, "08:00")


def test_each_weekday_has_its_own_hours_and_a_day_without_hours_is_closed():
    the_schedule = schedule()

    assert the_schedule.place(IV, at(THU, "18:30")).recovery_ends_at == at(THU, "20:00")
    assert refusal(the_schedule, IV, at(FRI, "18:30")) == "clinic_closed"
    assert the_schedule.place(IV, at(SAT, "11:30")).recovery_ends_at == at(SAT, "13:00")
    assert refusal(the_schedule, IV, at(SAT, "08:00")) == "clinic_closed"
    assert refusal(the_schedule, INTAKE, at(SUN, "10:00")) == "clinic_closed"


def test_a_session_must_fit_in_one_interval_of_a_day_with_a_lunch_break():
    split = every_day("08:00-12:00", "13:00-17:00")
    the_schedule = schedule(opening=split)

    assert the_schedule.place(IV, at(TUE, "10:30")).recovery_ends_at == at(TUE, "12:00")
    assert refusal(the_schedule, IV, at(TUE, "10:45")) == "clinic_closed"
    assert refusal(the_schedule, INTAKE, at(TUE, "12:30")) == "clinic_closed"
    assert the_schedule.place(IV, at(TUE, "13:00")).starts_at == at(TUE, "13:00")


def test_a_closure_date_closes_the_whole_day_whatever_its_weekday():
    the_schedule = schedule(closed_on=(date(2027, 1, 6),))

    assert refusal(the_schedule, INTAKE, at(WED, "10:00")) == "clinic_closed"
    assert the_schedule.open_starts(INTAKE, at(WED, "00:00"), at(THU, "00:00")) == []
    assert the_schedule.place(INTAKE, at(THU, "10:00")).starts_at == at(THU, "10:00")


# --- minimum notice ----------------------------------------------------------------------------------------------


def test_a_start_sooner_than_the_minimum_notice_is_refused_as_short_notice():
    three_hours = TreatmentType("intake_assessment", "Intake assessment", 60, 0, minimum_notice_minutes=180)
    the_schedule = schedule(types=(three_hours,), now=at(MON, "06:00"))

    assert refusal(the_schedule, three_hours, at(MON, "08:45")) == "short_notice"
    assert the_schedule.place(three_hours, at(MON, "09:00")).starts_at == at(MON, "09:00")
    listed = the_schedule.open_starts(three_hours, at(MON, "00:00"), at(MON, "12:00"))
    assert starts(listed)[0] == "2027-01-04T09:00:00-05:00"


# --- chairs: buffers on both sides -------------------------------------------------------------------------------


def test_a_session_may_start_exactly_when_the_previous_session_frees_the_chair_and_not_a_slot_earlier():
    earlier = block(IV, at(TUE, "09:00"))  # chair free at 10:45
    the_schedule = schedule(earlier, chairs=("chair-1",))

    assert the_schedule.place(INTAKE, at(TUE, "10:45")).chair_id == "chair-1"
    assert refusal(the_schedule, INTAKE, at(TUE, "10:30")) == "no_chair_available"  # recovery is over, cleaning is not
    assert refusal(the_schedule, INTAKE, at(TUE, "10:30"), chair_id="chair-1") == "chair_unavailable"
    assert refusal(the_schedule, INTAKE, at(TUE, "09:30"), chair_id="chair-1") == "chair_unavailable"


def test_a_new_sessions_own_turnover_must_end_before_the_next_session_in_the_chair_starts():
    later = block(INTAKE, at(TUE, "11:00"))
    the_schedule = schedule(later, chairs=("chair-1",))

    placement = the_schedule.place(IV, at(TUE, "09:15"))
    assert placement.chair_free_at == at(TUE, "11:00")
    # Treatment and recovery would end at 11:00, but the cleaning would run into the next session.
    assert refusal(the_schedule, IV, at(TUE, "09:30")) == "no_chair_available"
    assert refusal(the_schedule, IV, at(TUE, "09:30"), chair_id="chair-1") == "chair_unavailable"


def test_a_session_without_turnover_frees_the_chair_at_the_end_of_recovery():
    intake = block(INTAKE, at(TUE, "09:00"))
    the_schedule = schedule(intake, chairs=("chair-1",))

    assert the_schedule.place(INTAKE, at(TUE, "10:00")).starts_at == at(TUE, "10:00")
    assert refusal(the_schedule, INTAKE, at(TUE, "09:45")) == "no_chair_available"


def test_without_a_chair_id_the_first_free_chair_is_taken_and_a_named_chair_is_respected():
    taken = block(IV, at(TUE, "09:00"), chair="chair-1", clinician=None)
    the_schedule = schedule(taken, chairs=("chair-1", "chair-2", "chair-3"))

    assert the_schedule.place(IV, at(TUE, "09:00")).chair_id == "chair-2"
    assert the_schedule.place(IV, at(TUE, "09:00"), chair_id="chair-3").chair_id == "chair-3"
    assert the_schedule.place(IV, at(TUE, "10:45"), chair_id="chair-1").chair_id == "chair-1"


def test_every_chair_taken_is_refused_as_no_chair_available():
    the_schedule = schedule(
        block(IV, at(TUE, "09:00"), chair="chair-1", clinician=None),
        block(SPRAY, at(TUE, "08:30"), chair="chair-2", clinician=None),
    )

    assert refusal(the_schedule, INTAKE, at(TUE, "10:00")) == "no_chair_available"
    assert the_schedule.place(INTAKE, at(TUE, "10:45")).chair_id == "chair-1"


def test_an_unknown_chair_is_an_invalid_chair_id():
    errors = invalid_fields(schedule(), IV, at(TUE, "09:00"), chair_id="chair-9")

    assert list(errors) == ["chair_id"]
    assert "chair-1" in errors["chair_id"][0]


# --- clinicians: busy for the treatment only, within working hours -----------------------------------------------


def test_one_clinician_can_treat_in_a_second_chair_while_the_first_patient_recovers():
    first = block(IV, at(TUE, "09:00"), chair="chair-1", clinician="dr-a")
    the_schedule = schedule(first)

    second = the_schedule.place(IV, at(TUE, "09:45"), clinician_id="dr-a")

    assert (second.chair_id, second.clinician_id) == ("chair-2", "dr-a")
    assert second.starts_at < first.recovery_ends_at  # both chairs are in use, one clinician
    assert refusal(the_schedule, IV, at(TUE, "09:30"), clinician_id="dr-a") == "clinician_unavailable"
    assert refusal(the_schedule, IV, at(TUE, "09:30")) == "no_clinician_available"
    assert refusal(the_schedule, SPRAY, at(TUE, "09:30")) == "no_clinician_available"  # dr-a treats until 09:45
    assert the_schedule.place(SPRAY, at(TUE, "08:45")).clinician_id == "dr-a"  # its treatment ends at 09:00


def test_a_session_whose_clinician_is_unknown_to_the_schedule_does_not_block_a_clinician():
    unattended = block(INTAKE, at(TUE, "09:00"), chair="chair-1", clinician=None)

    assert schedule(unattended).place(IV, at(TUE, "09:00"), clinician_id="dr-a").chair_id == "chair-2"


def test_the_treatment_part_must_fall_within_the_clinicians_working_hours_but_recovery_need_not():
    early = Clinician("dr-a", "Dr. A", weekly(tuesday=["08:00-16:00"]))
    late = Clinician("dr-b", "Dr. B", weekly(tuesday=["12:00-18:00"]))
    the_schedule = schedule(clinicians=(early, late))

    assert the_schedule.place(IV, at(TUE, "15:15"), clinician_id="dr-a").recovery_ends_at == at(TUE, "16:45")
    assert refusal(the_schedule, IV, at(TUE, "15:30"), clinician_id="dr-a") == "clinician_unavailable"
    assert the_schedule.place(IV, at(TUE, "15:30")).clinician_id == "dr-b"
    assert refusal(the_schedule, IV, at(TUE, "11:30"), clinician_id="dr-b") == "clinician_unavailable"
    assert the_schedule.place(IV, at(TUE, "12:00"), clinician_id="dr-b").clinician_id == "dr-b"
    assert the_schedule.place(IV, at(TUE, "11:30")).clinician_id == "dr-a"


def test_no_clinician_working_that_day_is_refused_as_no_clinician_available():
    weekdays_only = Clinician("dr-a", "Dr. A", weekly(monday=["08:00-18:00"], tuesday=["08:00-18:00"]))
    the_schedule = schedule(clinicians=(weekdays_only,))

    assert refusal(the_schedule, INTAKE, at(SAT, "10:00")) == "no_clinician_available"
    assert the_schedule.open_starts(INTAKE, at(SAT, "00:00"), at(SUN, "00:00")) == []


def test_an_unknown_clinician_is_an_invalid_clinician_id():
    errors = invalid_fields(schedule(), IV, at(TUE, "09:00"), clinician_id="dr-nobody")

    assert list(errors) == ["clinician_id"]
    assert "dr-a" in errors["clinician_id"][0]


@pytest.mark.parametrize(
    "options, field", [({"chair_id": "chair-9"}, "chair_id"), ({"clinician_id": "dr-nobody"}, "clinician_id")]
)
def test_availability_for_an_unknown_chair_or_clinician_is_an_invalid_request_not_an_empty_list(options, field):
    # A misspelt chair must not read as "fully booked": place() answers 422 for it, and so must open_starts().
    with pytest.raises(InvalidRequest) as invalid:
        schedule().open_starts(INTAKE, at(TUE, "00:00"), at(WED, "00:00"), **options)

    assert list(invalid.value.errors) == [field]


# --- the timeline of one chair or clinician ----------------------------------------------------------------------


def t(minute: int) -> datetime:
    return NOW + timedelta(minutes=minute)


@pytest.mark.parametrize(
    "busy, asked, gaps",
    [
        ([], (0, 10), [(0, 10)]),
        ([(10, 20)], (0, 30), [(0, 10), (20, 30)]),  # free up to the very start, and from the very end
        ([(10, 20)], (12, 15), []),  # inside
        ([(10, 20)], (5, 25), [(5, 10), (20, 25)]),  # around: clipped to the span asked
        ([(10, 20)], (20, 30), [(20, 30)]),
        ([(0, 100), (10, 20)], (5, 60), []),  # a long interval that starts before a short one still counts
        ([(0, 100), (10, 20)], (50, 120), [(100, 120)]),
        ([(0, 5), (10, 20), (30, 40)], (0, 40), [(5, 10), (20, 30)]),
        ([(30, 40), (0, 5), (10, 20)], (0, 50), [(5, 10), (20, 30), (40, 50)]),  # given out of order
        ([(10, 20), (20, 30)], (0, 40), [(0, 10), (30, 40)]),  # back to back: no empty gap between them
    ],
)
def test_a_timeline_gives_exactly_the_free_parts_of_the_span_asked(busy, asked, gaps):
    timeline = Timeline((t(a), t(b)) for a, b in busy)

    assert list(timeline.gaps(t(asked[0]), t(asked[1]))) == [(t(a), t(b)) for a, b in gaps]


def test_a_timeline_counts_an_added_interval():
    timeline = Timeline([(t(0), t(10))])

    timeline.add(t(50), t(60))

    assert list(timeline.gaps(t(0), t(70))) == [(t(10), t(50)), (t(60), t(70))]


def test_holding_a_placement_makes_the_schedule_refuse_its_chair_clinician_and_patient_time():
    the_schedule = schedule()
    record = patient()
    first = the_schedule.place(IV, at(TUE, "09:00"), patient=record, chair_id="chair-1")

    the_schedule.hold(first, record)

    assert refusal(the_schedule, INTAKE, at(TUE, "10:30"), chair_id="chair-1") == "chair_unavailable"
    assert the_schedule.place(INTAKE, at(TUE, "10:45"), chair_id="chair-1").chair_id == "chair-1"
    assert refusal(the_schedule, INTAKE, at(TUE, "09:30")) == "no_clinician_available"
    assert the_schedule.place(INTAKE, at(TUE, "09:45")).chair_id == "chair-2"
    assert refusal(the_schedule, INTAKE, at(TUE, "10:00"), patient=record) == "patient_overlap"
    assert refusal(the_schedule, IV, at(TUE, "14:00"), patient=record) == "patient_spacing"
    assert [b.starts_at for b in record.blocks] == [at(TUE, "09:00")]


# --- open_starts lists exactly what place accepts ----------------------------------------------------------------


def busy_week() -> tuple[Schedule, PatientRecord, Clinic]:
    """Two chairs, two clinicians, a closure day, sessions of other patients and one of the patient's own."""
    dr_a = Clinician("dr-a", "Dr. A", weekly(**{d: ["08:00-16:00"] for d in WEEKDAYS[:5]}))
    dr_b = Clinician("dr-b", "Dr. B", weekly(**{d: ["12:00-18:00"] for d in WEEKDAYS[:5]}, saturday=["09:00-13:00"]))
    noticed_iv = TreatmentType("iv_infusion", "IV ketamine infusion", 45, 45, 15, True, True, False, 120, 120, 20)
    noticed_intake = TreatmentType(
        "intake_assessment", "Intake assessment", 60, 0, counts_as_intake=True, minimum_notice_minutes=60
    )
    the_clinic = clinic(
        clinicians=(dr_a, dr_b), types=(noticed_iv, SPRAY, noticed_intake), closed_on=(date(2027, 1, 7),)
    )
    own = block(noticed_iv, at(WED, "10:00"), chair="chair-2", clinician="dr-a", patient="patient-1")
    blocks = [
        block(noticed_iv, at(MON, "13:00"), chair="chair-1", clinician="dr-b"),
        block(SPRAY, at(MON, "13:30"), chair="chair-2", clinician="dr-a"),
        block(noticed_iv, at(TUE, "08:00"), chair="chair-1", clinician="dr-a"),
        block(noticed_iv, at(TUE, "09:00"), chair="chair-2", clinician="dr-a"),
        block(noticed_intake, at(TUE, "10:15"), chair="chair-1", clinician=None),
        block(SPRAY, at(TUE, "14:00"), chair="chair-1", clinician="dr-b"),
        own,
        block(noticed_intake, at(FRI, "12:00"), chair="chair-2", clinician="dr-b"),
        block(noticed_iv, at(SAT, "09:00"), chair="chair-1", clinician="dr-b"),
    ]
    return Schedule(the_clinic, blocks, now=at(MON, "09:10")), patient(own), the_clinic


@pytest.mark.parametrize("type_id", ["iv_infusion", "esketamine_nasal_spray", "intake_assessment"])
@pytest.mark.parametrize("for_patient", [False, True], ids=["any patient", "this patient"])
@pytest.mark.parametrize(
    "options", [{}, {"chair_id": "chair-2"}, {"clinician_id": "dr-b"}], ids=["any chair", "chair-2", "dr-b"]
)
def test_every_listed_start_is_accepted_by_place_and_every_unlisted_one_is_refused(type_id, for_patient, options):
    the_schedule, record, the_clinic = busy_week()
    treatment = the_clinic.treatment_type(type_id)
    if for_patient:
        options = {**options, "patient": record}

    listed = assert_open_starts_are_exactly_what_place_accepts(
        the_schedule, treatment, at(MON, "00:00"), at("2027-01-11", "00:00"), **options
    )

    assert listed, "the week is not full"
    days = {the_clinic.local_day(p.starts_at) for p in listed}
    assert date(2027, 1, 7) not in days and date(2027, 1, 10) not in days  # closure day and Sunday


def test_the_busy_week_lists_what_each_rule_leaves_open():
    the_schedule, record, the_clinic = busy_week()
    iv = the_clinic.treatment_type("iv_infusion")

    listed = {p.starts_at for p in the_schedule.open_starts(iv, at(MON, "00:00"), at(SUN, "00:00"), patient=record)}

    assert at(MON, "11:00") not in listed and at(MON, "11:15") in listed  # notice: now 09:10 + 2 h
    assert at(TUE, "14:00") in listed and at(TUE, "14:15") not in listed  # 20 h before the patient's Wednesday infusion
    assert not any(the_clinic.local_day(s) == date(2027, 1, 6) for s in listed)  # spacing on both sides
    assert at(FRI, "16:30") in listed and at(FRI, "16:45") not in listed  # recovery ends by 18:00
    assert at(SAT, "09:00") not in listed  # dr-b treats chair-1's 09:00 infusion until 09:45
    assert at(SAT, "09:45") in listed


def test_open_starts_never_lists_a_start_outside_the_window():
    the_schedule, _, the_clinic = busy_week()
    intake = the_clinic.treatment_type("intake_assessment")

    listed = the_schedule.open_starts(intake, at(TUE, "12:05"), at(TUE, "13:00"))

    assert starts(listed) == ["2027-01-05T12:15:00-05:00", "2027-01-05T12:30:00-05:00", "2027-01-05T12:45:00-05:00"]


# --- daylight saving time ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change_day, ordinary_day, offset_on_change_day, offset_on_ordinary_day",
    [
        ("2027-03-14", "2027-03-13", "-04:00", "-05:00"),  # spring forward at 02:00 that night
        ("2026-11-01", "2026-10-31", "-05:00", "-04:00"),  # fall back at 02:00 that night
        ("2027-11-07", "2027-11-06", "-05:00", "-04:00"),
    ],
)
def test_on_a_daylight_saving_day_availability_starts_at_eight_local_with_the_days_offset(
    change_day, ordinary_day, offset_on_change_day, offset_on_ordinary_day
):
    the_schedule = schedule(opening=every_day("08:00-18:00"), now=at(change_day, "00:00") - timedelta(days=30))

    on_change_day = starts(the_schedule.open_starts(INTAKE, at(change_day, "00:00"), at(change_day, "23:59")))
    on_ordinary_day = starts(the_schedule.open_starts(INTAKE, at(ordinary_day, "00:00"), at(ordinary_day, "23:59")))

    assert on_change_day[0] == f"{change_day}T08:00:00{offset_on_change_day}"
    assert on_change_day[-1] == f"{change_day}T17:00:00{offset_on_change_day}"
    assert on_ordinary_day[0] == f"{ordinary_day}T08:00:00{offset_on_ordinary_day}"
    assert len(on_change_day) == len(on_ordinary_day) == 37
    assert [s[11:19] for s in on_change_day] == [s[11:19] for s in on_ordinary_day]
    assert all(s.endswith(offset_on_change_day) for s in on_change_day)
    infusion = the_schedule.place(IV, at(change_day, "08:00"))
    assert infusion.starts_at.astimezone(NEW_YORK).isoformat() == f"{change_day}T08:00:00{offset_on_change_day}"
    assert (infusion.treatment_ends_at - infusion.starts_at, infusion.chair_free_at - infusion.starts_at) == (
        timedelta(minutes=45),
        timedelta(minutes=105),
    )


def test_on_the_spring_forward_night_no_slot_falls_in_the_skipped_hour_and_durations_are_elapsed_minutes():
    the_schedule = schedule(opening=every_day("00:00-06:00"), now=at("2027-03-01", "00:00"))

    listed = assert_open_starts_are_exactly_what_place_accepts(
        the_schedule, INTAKE, at("2027-03-14", "00:00"), at("2027-03-15", "00:00")
    )

    walls = [s[11:] for s in starts(listed)]
    assert walls == [f"0{h}:{m:02d}:00-05:00" for h in (0, 1) for m in (0, 15, 30, 45)] + [
        f"0{h}:{m:02d}:00-04:00" for h in (3, 4) for m in (0, 15, 30, 45)
    ] + ["05:00:00-04:00"]
    assert not any(w.startswith("02:") for w in walls)
    infusion = the_schedule.place(IV, at("2027-03-14", "01:30"))
    assert [
        t.astimezone(NEW_YORK).isoformat()[11:]
        for t in (infusion.starts_at, infusion.treatment_ends_at, infusion.recovery_ends_at, infusion.chair_free_at)
    ] == ["01:30:00-05:00", "03:15:00-04:00", "04:00:00-04:00", "04:15:00-04:00"]
    assert infusion.recovery_ends_at - infusion.starts_at == timedelta(minutes=90)


@pytest.mark.parametrize("change_day", ["2026-11-01", "2027-11-07"])
def test_on_the_fall_back_night_the_repeated_hour_gives_two_distinct_slots_per_wall_time_and_no_duplicate(change_day):
    the_schedule = schedule(opening=every_day("00:00-06:00"), now=at(change_day, "00:00") - timedelta(days=30))

    listed = assert_open_starts_are_exactly_what_place_accepts(
        the_schedule, INTAKE, at(change_day, "00:00"), at(change_day, "23:59")
    )

    instants = [p.starts_at for p in listed]
    assert len(instants) == len(set(instants)) == 25  # seven real hours from 00:00 EDT to 06:00 EST, last start 05:00
    assert all(later - earlier == timedelta(minutes=15) for earlier, later in zip(instants, instants[1:], strict=False))
    walls = [s[11:] for s in starts(listed)]
    assert walls[0] == "00:00:00-04:00" and walls[-1] == "05:00:00-05:00"
    assert "01:30:00-04:00" in walls and "01:30:00-05:00" in walls
    infusion = the_schedule.place(IV, at(change_day, "01:00"))  # the first 01:00, EDT
    assert infusion.recovery_ends_at.astimezone(NEW_YORK).isoformat()[11:] == "01:30:00-05:00"
    assert infusion.recovery_ends_at - infusion.starts_at == timedelta(minutes=90)


def test_an_opening_time_that_the_spring_change_skips_moves_forward():
    the_schedule = schedule(opening=every_day("02:30-06:00"), now=at("2027-03-01", "00:00"))

    listed = the_schedule.open_starts(INTAKE, at("2027-03-14", "00:00"), at("2027-03-15", "00:00"))

    assert starts(listed)[0] == "2027-03-14T03:30:00-04:00"


def test_a_closing_time_that_the_spring_change_skips_does_not_make_the_list_offer_what_booking_refuses():
    # 02:55 does not exist on 2027-03-14: the morning's first interval closes at 03:55 EDT, over the second one.
    one_chair_late_night = dict(
        opening=every_day("01:20-02:55", "03:10-04:45"),
        chairs=("chair-1",),
        slot_minutes=10,
        clinicians=(Clinician("dr-a", "Dr. A", every_day("00:00-23:59")),),
        now=at("2027-03-13", "07:00"),
    )
    check = TreatmentType("check", "Check", 15, 0)
    busy = block(check, at("2027-03-14", "03:35"), clinician=None)  # the chair until 03:50 EDT
    the_schedule = schedule(busy, types=(check,), **one_chair_late_night)

    listed = assert_open_starts_are_exactly_what_place_accepts(
        the_schedule, check, at("2027-03-14", "00:00"), at("2027-03-14", "06:00")
    )

    assert at("2027-03-14", "03:30") not in {p.starts_at for p in listed}  # it would run into the busy chair


LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # moves its clocks by thirty minutes


@pytest.mark.parametrize(
    "slot_minutes, change_day, expected_walls",
    [
        # 2026-10-04: 02:00 (+10:30) becomes 02:30 (+11:00).
        (30, "2026-10-04", ["00:00", "00:30", "01:00", "01:30", "02:30", "03:00", "03:30", "04:00", "04:30", "05:00"]),
        (60, "2026-10-04", ["00:00", "01:00", "03:00", "04:00", "05:00"]),
        # 2027-04-04: 02:00 (+11:00) becomes 01:30 (+10:30); 01:30-02:00 happens twice.
        (60, "2027-04-04", ["00:00", "01:00", "02:00", "03:00", "04:00", "05:00"]),
        # The repeated half hour holds a 20-minute grid start (01:40) in each pass; none at 01:30.
        (
            20,
            "2027-04-04",
            [
                "00:00",
                "00:20",
                "00:40",
                "01:00",
                "01:20",
                "01:40",
                "01:40",
                "02:00",
                "02:20",
                "02:40",
                "03:00",
                "03:20",
                "03:40",
                "04:00",
                "04:20",
                "04:40",
                "05:00",
            ],
        ),
    ],
)
def test_a_half_hour_daylight_saving_change_during_opening_hours_skips_no_grid_start_and_invents_none(
    slot_minutes, change_day, expected_walls
):
    the_schedule = schedule(
        opening=every_day("00:00-06:00"),
        zone=LORD_HOWE,
        slot_minutes=slot_minutes,
        now=datetime(2026, 9, 1, tzinfo=UTC),
    )

    listed = the_schedule.open_starts(INTAKE, at(change_day, "00:00", LORD_HOWE), at(change_day, "23:59", LORD_HOWE))

    walls = [p.starts_at.astimezone(LORD_HOWE).strftime("%H:%M") for p in listed]
    assert walls == expected_walls
    assert len({p.starts_at for p in listed}) == len(listed)
    assert_open_starts_are_exactly_what_place_accepts(
        the_schedule, INTAKE, at(change_day, "00:00", LORD_HOWE), at(change_day, "23:59", LORD_HOWE)
    )
