"""The clinic configuration file: the shipped default, a valid file read field by field, and a clear error for each wrong one."""

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from services.scheduler.adapters.clinic_config import DEFAULT_CONFIG, ClinicConfigError, load_clinic
from services.scheduler.domain.clinic import Checkpoint, CheckpointMoment
from services.scheduler.domain.schedule import Schedule

VALID = """\
name = "Test Clinic"
time_zone = "Europe/Paris"
chairs = ["left", "right"]
slot_minutes = 30
late_cancellation_hours = 48
arrival_minutes_before = 20
closed_on = [2027-05-01, "2027-12-25"]

[opening_hours]
monday = ["09:00-12:00", "13:00-17:00"]
tuesday = ["09:00-17:00"]
saturday = ["10:00-24:00"]

[clinicians.dr-a]
name = "Dr. A"
working_hours = { monday = ["09:00-12:00"], tuesday = ["12:00-17:00"] }

[clinicians.nurse-b]
name = "Nurse B"

[treatment_types.iv_infusion]
label = "IV ketamine infusion"
treatment_minutes = 40
recovery_minutes = 50
turnover_minutes = 10
ride_home_required = true
intake_required = true
minimum_notice_minutes = 120
booking_horizon_days = 90
minimum_spacing_hours = 20

[treatment_types.intake]
label = "Intake"
treatment_minutes = 60
recovery_minutes = 0
turnover_minutes = 0
ride_home_required = false
intake_required = false
counts_as_intake = true
minimum_notice_minutes = 0
booking_horizon_days = 30
minimum_spacing_hours = 0
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "clinic.toml"
    path.write_text(text, encoding="utf-8")
    return path


def changed(old: str, new: str) -> str:
    assert VALID.count(old) == 1, old
    return VALID.replace(old, new)


def config_error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ClinicConfigError) as error:
        load_clinic(path)
    message = str(error.value)
    assert str(path) in message
    return message


@pytest.fixture(autouse=True)
def no_clinic_config_from_the_environment(monkeypatch):
    monkeypatch.delenv("CLINIC_CONFIG", raising=False)


# --- the shipped default -----------------------------------------------------------------------------------------


def test_the_shipped_default_configuration_loads_as_documented():
    clinic = load_clinic()

    assert clinic == load_clinic(DEFAULT_CONFIG)
    assert clinic.time_zone.key == "America/New_York"
    assert clinic.chairs == ("chair-1", "chair-2", "chair-3", "chair-4")
    assert clinic.slot_minutes == 15
    assert date(2026, 12, 25) in clinic.closed_on
    monday, thursday, saturday, sunday = (clinic.opening_hours.days[i] for i in (0, 3, 5, 6))
    assert monday == ((time(8), time(18)),)
    assert thursday == ((time(8), time(20)),)
    assert saturday == ((time(9), time(14)),)
    assert sunday == ()
    assert [c.id for c in clinic.clinicians] == ["dr-patel", "np-okafor"]
    assert clinic.clinician("dr-patel").working_hours.days[3] == ((time(12), time(20)),)
    assert clinic.clinician("np-okafor").working_hours.days[5] == ((time(9), time(14)),)


def test_the_shipped_default_gives_the_documented_treatments():
    types = load_clinic(DEFAULT_CONFIG).treatment_types

    assert set(types) == {"iv_infusion", "esketamine_nasal_spray", "intake_assessment"}
    iv, spray, intake = types["iv_infusion"], types["esketamine_nasal_spray"], types["intake_assessment"]
    assert (iv.treatment_minutes, iv.recovery_minutes, iv.turnover_minutes) == (45, 45, 15)
    assert (spray.treatment_minutes, spray.recovery_minutes, spray.turnover_minutes) == (15, 120, 15)
    assert (intake.treatment_minutes, intake.recovery_minutes, intake.turnover_minutes) == (60, 0, 0)
    for treatment in (iv, spray):
        assert treatment.ride_home_required and treatment.intake_required and not treatment.counts_as_intake
        assert (treatment.minimum_notice_minutes, treatment.booking_horizon_days, treatment.minimum_spacing_hours) == (
            720,
            120,
            20,
        )
    assert intake.counts_as_intake and not intake.intake_required and not intake.ride_home_required
    assert (intake.minimum_notice_minutes, intake.minimum_spacing_hours) == (60, 0)


# --- a valid file ------------------------------------------------------------------------------------------------


def test_a_valid_file_is_read_into_the_clinic_field_by_field(tmp_path):
    clinic = load_clinic(write(tmp_path, VALID))

    assert clinic.name == "Test Clinic"
    assert clinic.time_zone.key == "Europe/Paris"
    assert clinic.chairs == ("left", "right")
    assert (clinic.slot_minutes, clinic.late_cancellation_hours, clinic.arrival_minutes_before) == (30, 48, 20)
    assert clinic.closed_on == frozenset({date(2027, 5, 1), date(2027, 12, 25)})
    assert clinic.opening_hours.days[0] == ((time(9), time(12)), (time(13), time(17)))
    assert clinic.opening_hours.days[2] == ()
    iv = clinic.treatment_type("iv_infusion")
    assert (iv.id, iv.label, iv.treatment, iv.recovery, iv.chair_hold) == (
        "iv_infusion",
        "IV ketamine infusion",
        timedelta(minutes=40),
        timedelta(minutes=50),
        timedelta(minutes=100),
    )
    assert (iv.ride_home_required, iv.intake_required, iv.counts_as_intake) == (True, True, False)
    assert (iv.minimum_notice, iv.booking_horizon, iv.minimum_spacing) == (
        timedelta(hours=2),
        timedelta(days=90),
        timedelta(hours=20),
    )
    assert clinic.treatment_type("intake").counts_as_intake


def test_a_clinician_without_working_hours_works_the_opening_hours(tmp_path):
    clinic = load_clinic(write(tmp_path, VALID))

    assert clinic.clinician("nurse-b").working_hours == clinic.opening_hours
    assert clinic.clinician("dr-a").working_hours.days[1] == ((time(12), time(17)),)
    assert clinic.clinician("dr-a").name == "Dr. A"


def test_intervals_of_a_day_are_kept_in_order_whatever_order_the_file_gives(tmp_path):
    clinic = load_clinic(
        write(tmp_path, changed('monday = ["09:00-12:00", "13:00-17:00"]', 'monday = ["13:00-17:00", "09:00-12:00"]'))
    )

    assert clinic.opening_hours.days[0] == ((time(9), time(12)), (time(13), time(17)))


def test_touching_intervals_are_not_an_overlap(tmp_path):
    clinic = load_clinic(write(tmp_path, changed('"09:00-12:00", "13:00-17:00"', '"09:00-12:00", "12:00-17:00"')))

    assert clinic.opening_hours.days[0] == ((time(9), time(12)), (time(12), time(17)))


def test_optional_settings_take_their_documented_defaults(tmp_path):
    text = VALID.replace("slot_minutes = 30\n", "").replace("arrival_minutes_before = 20\n", "")
    text = text.replace('closed_on = [2027-05-01, "2027-12-25"]\n', "").replace("counts_as_intake = true\n", "")

    clinic = load_clinic(write(tmp_path, text))

    assert (clinic.slot_minutes, clinic.arrival_minutes_before, clinic.closed_on) == (15, 15, frozenset())
    assert clinic.treatment_type("intake").counts_as_intake is False


# --- a clear error for each wrong field --------------------------------------------------------------------------


def test_an_unknown_time_zone_is_refused_naming_the_field_and_the_value(tmp_path):
    message = config_error(tmp_path, changed('"Europe/Paris"', '"Mars/Olympus_Mons"'))

    assert "time_zone" in message and "Mars/Olympus_Mons" in message


@pytest.mark.parametrize("zone", ["", "../../etc/passwd", "europe/paris "])
def test_a_malformed_time_zone_is_refused_as_a_config_error(tmp_path, zone):
    assert "time_zone" in config_error(tmp_path, changed('"Europe/Paris"', f'"{zone}"'))


def test_overlapping_intervals_are_refused_naming_the_day(tmp_path):
    message = config_error(tmp_path, changed('tuesday = ["09:00-17:00"]', 'tuesday = ["09:00-13:00", "12:00-17:00"]'))

    assert "opening_hours" in message and "tuesday" in message and "overlap" in message


def test_overlapping_working_hours_of_a_clinician_are_refused_naming_the_clinician(tmp_path):
    message = config_error(
        tmp_path, changed('tuesday = ["12:00-17:00"] }', 'tuesday = ["12:00-17:00", "16:00-18:00"] }')
    )

    assert "dr-a" in message and "tuesday" in message and "overlap" in message


@pytest.mark.parametrize("text", ["9-17", "09:00 - 17:00", "09:00-17", "nine to five", "0900-1700"])
def test_an_interval_that_is_not_hh_mm_hh_mm_is_refused_quoting_it(tmp_path, text):
    message = config_error(tmp_path, changed('tuesday = ["09:00-17:00"]', f'tuesday = ["{text}"]'))

    assert "tuesday" in message and text in message and "08:00-18:00" in message


@pytest.mark.parametrize("text", ["25:00-26:00", "09:60-17:00", "09:00-24:30"])
def test_an_interval_with_a_time_of_day_that_does_not_exist_is_refused(tmp_path, text):
    message = config_error(tmp_path, changed('tuesday = ["09:00-17:00"]', f'tuesday = ["{text}"]'))

    assert "tuesday" in message and "does not exist" in message


@pytest.mark.parametrize("text", ["17:00-09:00", "09:00-09:00"])
def test_an_interval_that_closes_before_it_opens_is_refused(tmp_path, text):
    message = config_error(tmp_path, changed('tuesday = ["09:00-17:00"]', f'tuesday = ["{text}"]'))

    assert "tuesday" in message and "closes before it opens" in message


def test_a_missing_turnover_is_refused_naming_the_field_and_the_treatment(tmp_path):
    message = config_error(tmp_path, changed("turnover_minutes = 10\n", ""))

    assert "turnover_minutes" in message and "iv_infusion" in message and "Missing" in message


def test_a_recovery_without_a_ride_home_is_refused(tmp_path):
    message = config_error(
        tmp_path,
        changed(
            "recovery_minutes = 50\nturnover_minutes = 10\nride_home_required = true",
            "recovery_minutes = 50\nturnover_minutes = 10\nride_home_required = false",
        ),
    )

    assert "ride_home_required" in message and "iv_infusion" in message and "ride home" in message


def test_a_block_longer_than_a_day_is_refused_and_a_block_of_exactly_a_day_is_not(tmp_path):
    message = config_error(
        tmp_path,
        changed(
            "treatment_minutes = 40\nrecovery_minutes = 50\nturnover_minutes = 10",
            "treatment_minutes = 720\nrecovery_minutes = 600\nturnover_minutes = 121",
        ),
    )
    assert "iv_infusion" in message and "within a day" in message

    day_long = changed(
        "treatment_minutes = 40\nrecovery_minutes = 50\nturnover_minutes = 10",
        "treatment_minutes = 720\nrecovery_minutes = 600\nturnover_minutes = 120",
    )
    assert load_clinic(write(tmp_path, day_long)).treatment_type("iv_infusion").chair_hold == timedelta(days=1)


@pytest.mark.parametrize("value", ["0", "7", "45", "-15", "15.0", '"15"', "true"])
def test_a_slot_length_other_than_the_allowed_ones_is_refused(tmp_path, value):
    message = config_error(tmp_path, changed("slot_minutes = 30", f"slot_minutes = {value}"))

    assert "slot_minutes" in message


@pytest.mark.parametrize("value", ['"40"', "40.5", "0", "-5", "721", "true"])
def test_a_treatment_length_that_is_not_a_whole_positive_number_of_minutes_is_refused(tmp_path, value):
    message = config_error(tmp_path, changed("treatment_minutes = 40", f"treatment_minutes = {value}"))

    assert "treatment_minutes" in message and "iv_infusion" in message


def test_duplicate_chairs_are_refused(tmp_path):
    message = config_error(tmp_path, changed('["left", "right"]', '["left", "right", "left"]'))

    assert "chairs" in message and "distinct" in message


@pytest.mark.parametrize("chairs", ["[]", '["Left Chair"]', '[""]'])
def test_no_chairs_or_a_badly_named_chair_is_refused(tmp_path, chairs):
    assert "chairs" in config_error(tmp_path, changed('["left", "right"]', chairs))


def test_a_clinic_without_clinicians_is_refused(tmp_path):
    start, end = VALID.index("[clinicians.dr-a]"), VALID.index("[treatment_types.iv_infusion]")

    message = config_error(tmp_path, VALID[:start] + VALID[end:])
    assert "clinicians" in message and "Missing" in message

    message = config_error(tmp_path, VALID[:start] + "clinicians = {}\n\n" + VALID[end:])
    assert "clinicians" in message


def test_a_clinic_that_is_never_open_is_refused(tmp_path):
    text = changed(
        'monday = ["09:00-12:00", "13:00-17:00"]\ntuesday = ["09:00-17:00"]\nsaturday = ["10:00-24:00"]\n',
        "sunday = []\n",
    )

    message = config_error(tmp_path, text)

    assert "opening_hours" in message and "at least one weekday" in message


@pytest.mark.parametrize(
    "old, new, unknown",
    [
        ('name = "Test Clinic"', 'name = "Test Clinic"\ntimezone = "Europe/Paris"', "timezone"),
        ("ride_home_required = true", "ride_home_required = true\nescort_minutes = 5", "escort_minutes"),
        ('tuesday = ["09:00-17:00"]', 'tuesday = ["09:00-17:00"]\ntue = ["09:00-17:00"]', "tue"),
        ('name = "Nurse B"', 'name = "Nurse B"\nphone = "+14155550123"', "phone"),
    ],
    ids=["top level", "treatment type", "weekday", "clinician"],
)
def test_an_unknown_key_is_refused_naming_it(tmp_path, old, new, unknown):
    message = config_error(tmp_path, changed(old, new))

    assert f"'{unknown}'" in message and "Unknown field" in message


def test_an_intake_that_requires_an_intake_is_refused(tmp_path):
    text = changed(
        "ride_home_required = false\nintake_required = false", "ride_home_required = false\nintake_required = true"
    )

    message = config_error(tmp_path, text)

    assert "intake_required" in message and "intake" in message


def test_a_closure_date_that_is_not_a_date_is_refused(tmp_path):
    message = config_error(tmp_path, changed('"2027-12-25"', '"2027-13-01"'))

    assert "closed_on" in message


def test_invalid_toml_is_refused_saying_so(tmp_path):
    message = config_error(tmp_path, VALID + "\n[treatment_types.broken\n")

    assert "not valid TOML" in message


def test_a_missing_file_is_refused_naming_it(tmp_path):
    path = tmp_path / "absent.toml"

    with pytest.raises(ClinicConfigError) as error:
        load_clinic(path)

    assert str(path) in str(error.value)


# --- choosing the file -------------------------------------------------------------------------------------------


def test_the_clinic_config_environment_variable_chooses_another_file(tmp_path, monkeypatch):
    monkeypatch.setenv("CLINIC_CONFIG", str(write(tmp_path, VALID)))

    clinic = load_clinic()

    assert clinic.name == "Test Clinic"
    assert clinic.time_zone.key == "Europe/Paris"


def test_a_path_given_explicitly_wins_over_clinic_config(tmp_path, monkeypatch):
    monkeypatch.setenv("CLINIC_CONFIG", str(write(tmp_path, VALID)))

    assert load_clinic(DEFAULT_CONFIG).time_zone.key == "America/New_York"


def test_a_wrong_file_named_by_clinic_config_is_refused_rather_than_falling_back_to_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("CLINIC_CONFIG", str(write(tmp_path, changed('"Europe/Paris"', '"Nowhere/Land"'))))

    with pytest.raises(ClinicConfigError, match="Nowhere/Land"):
        load_clinic()


# --- what the configuration means for the schedule ---------------------------------------------------------------


def test_an_interval_closing_at_24_00_lets_a_session_end_at_midnight(tmp_path):
    clinic = load_clinic(write(tmp_path, VALID))
    intake = clinic.treatment_type("intake")
    schedule = Schedule(clinic, [], now=datetime(2027, 1, 1, tzinfo=UTC))
    saturday = datetime(2027, 1, 9, 23, 0, tzinfo=clinic.time_zone)

    placement = schedule.place(intake, saturday)

    assert placement.recovery_ends_at == datetime(2027, 1, 10, 0, 0, tzinfo=clinic.time_zone)
    listed = schedule.open_starts(
        intake, datetime(2027, 1, 9, tzinfo=clinic.time_zone), datetime(2027, 1, 10, tzinfo=clinic.time_zone)
    )
    assert listed[-1].starts_at == saturday


# --- the clinic's address: where every ride home picks up --------------------------------------------------------


def test_the_shipped_default_names_the_clinics_address_in_its_zone():
    clinic = load_clinic(DEFAULT_CONFIG)

    assert clinic.address == "1200 Riverside Avenue, Suite 300, Jacksonville, FL 32204"
    assert clinic.time_zone.key == "America/New_York"  # Jacksonville, Florida keeps Eastern time


def test_an_address_is_read_as_one_trimmed_line_and_is_optional(tmp_path):
    with_address = load_clinic(
        write(
            tmp_path,
            changed('name = "Test Clinic"\n', 'name = "Test Clinic"\naddress = " 4 Rue de Rivoli, 75004 Paris "\n'),
        )
    )

    assert with_address.address == "4 Rue de Rivoli, 75004 Paris"
    assert load_clinic(write(tmp_path, VALID)).address is None


@pytest.mark.parametrize(
    "value",
    ['"4 Rue de Rivoli\\n75004 Paris"', '"   "', '""', f'"{"x" * 301}"', "4", '"Rue\\u0000"'],
    ids=["line-break", "blank", "empty", "too-long", "not-text", "NUL"],
)
def test_an_address_that_is_not_one_line_of_text_is_refused_naming_the_field(tmp_path, value):
    message = config_error(tmp_path, changed('name = "Test Clinic"\n', f'name = "Test Clinic"\naddress = {value}\n'))

    assert "address" in message


# --- the treatment day's gates: checkpoints, minimum monitoring, the earliest start -------------------------------

CHECKPOINTS = """\
minimum_monitoring_minutes = 50
earliest_start_minutes_before = 10
checkpoints = [
    { id = "bp_before", label = "Blood pressure before the infusion", at = "before_treatment" },
    { id = "bp_40", label = "Blood pressure 40 minutes in", minutes_after_start = 40 },
    { id = "bp_leaving", label = "Blood pressure before discharge", at = "before_discharge" },
]
"""


def with_checkpoints(text: str = CHECKPOINTS) -> str:
    return changed("minimum_spacing_hours = 20\n", "minimum_spacing_hours = 20\n" + text)


def test_the_shipped_default_gives_esketamine_its_rems_checkpoints_and_two_hours_of_monitoring():
    clinic = load_clinic(DEFAULT_CONFIG)
    spray, iv, intake = (
        clinic.treatment_types[t] for t in ("esketamine_nasal_spray", "iv_infusion", "intake_assessment")
    )

    assert [(c.id, c.moment, c.minutes_after_start) for c in spray.checkpoints] == [
        ("bp_before_dose", CheckpointMoment.BEFORE_TREATMENT, None),
        ("bp_40_min", None, 40),
        ("bp_before_discharge", CheckpointMoment.BEFORE_DISCHARGE, None),
    ]
    assert spray.minimum_monitoring == timedelta(hours=2)
    assert [c.moment for c in iv.checkpoints] == [
        CheckpointMoment.BEFORE_TREATMENT,
        None,
        CheckpointMoment.BEFORE_DISCHARGE,
    ]
    assert iv.checkpoints[1].minutes_after_start == iv.treatment_minutes  # vitals at the end of the infusion
    assert iv.minimum_monitoring == timedelta(minutes=iv.recovery_minutes)
    assert intake.checkpoints == () and intake.minimum_monitoring == timedelta(0)
    assert clinic.earliest_start_lead(spray) == timedelta(minutes=30)


def test_checkpoints_minimum_monitoring_and_the_earliest_start_are_read_per_treatment(tmp_path):
    clinic = load_clinic(
        write(
            tmp_path,
            with_checkpoints().replace(
                "arrival_minutes_before = 20\n", "arrival_minutes_before = 20\nearliest_start_minutes_before = 45\n"
            ),
        )
    )
    iv, intake = clinic.treatment_type("iv_infusion"), clinic.treatment_type("intake")

    assert iv.checkpoints == (
        Checkpoint("bp_before", "Blood pressure before the infusion", moment=CheckpointMoment.BEFORE_TREATMENT),
        Checkpoint("bp_40", "Blood pressure 40 minutes in", minutes_after_start=40),
        Checkpoint("bp_leaving", "Blood pressure before discharge", moment=CheckpointMoment.BEFORE_DISCHARGE),
    )
    assert iv.minimum_monitoring == timedelta(minutes=50)
    assert clinic.earliest_start_lead(iv) == timedelta(minutes=10)  # the treatment's own
    assert clinic.earliest_start_lead(intake) == timedelta(minutes=45)  # the clinic's


def test_without_gate_settings_a_treatment_has_no_checkpoints_monitors_its_recovery_and_starts_up_to_30_minutes_early(
    tmp_path,
):
    clinic = load_clinic(write(tmp_path, VALID))
    iv = clinic.treatment_type("iv_infusion")

    assert iv.checkpoints == ()
    assert iv.minimum_monitoring == timedelta(minutes=50)
    assert clinic.earliest_start_lead(iv) == timedelta(minutes=30)


@pytest.mark.parametrize(
    "checkpoint, field",
    [
        ('{ id = "bp", label = "BP", at = "whenever" }', "at"),
        ('{ id = "bp", label = "BP", minutes_after_start = -5 }', "minutes_after_start"),
        ('{ id = "bp", label = "BP", minutes_after_start = 4.5 }', "minutes_after_start"),
        ('{ id = "bp", label = "BP", minutes_after_start = 100 }', "minutes_after_start"),  # after recovery (90)
        ('{ id = "b p", label = "BP", at = "before_treatment" }', "id"),
        ('{ label = "BP", at = "before_treatment" }', "id"),
        ('{ id = "bp", at = "before_treatment" }', "label"),
        ('{ id = "bp", label = "", at = "before_treatment" }', "label"),
        ('{ id = "bp", label = "BP\\nnow", at = "before_treatment" }', "label"),
        ('{ id = "bp", label = "BP", at = "before_treatment", by = "Dr. A" }', "by"),
    ],
    ids=[
        "unknown-moment",
        "negative-minutes",
        "fractional-minutes",
        "after-the-patient-leaves",
        "bad-id",
        "no-id",
        "no-label",
        "empty-label",
        "label-with-line-break",
        "unknown-key",
    ],
)
def test_a_wrong_checkpoint_is_refused_naming_the_treatment_the_checkpoint_and_its_field(tmp_path, checkpoint, field):
    message = config_error(tmp_path, with_checkpoints(f"checkpoints = [{checkpoint}]\n"))

    assert "iv_infusion" in message and "checkpoints" in message and f"'{field}'" in message, message
    assert "{0: {" in message, message  # the checkpoint's position in the list


@pytest.mark.parametrize(
    "checkpoint",
    ['{ id = "bp", label = "BP" }', '{ id = "bp", label = "BP", at = "before_treatment", minutes_after_start = 5 }'],
    ids=["neither", "both"],
)
def test_a_checkpoint_must_be_due_either_at_a_moment_or_some_minutes_after_the_start(tmp_path, checkpoint):
    message = config_error(tmp_path, with_checkpoints(f"checkpoints = [{checkpoint}]\n"))

    assert "checkpoints" in message and "either 'at'" in message, message


def test_two_checkpoints_of_one_treatment_with_the_same_id_are_refused(tmp_path):
    twice = '{ id = "bp", label = "BP", at = "before_treatment" }'
    message = config_error(tmp_path, with_checkpoints(f"checkpoints = [{twice}, {twice}]\n"))

    assert "checkpoints" in message and "distinct" in message


@pytest.mark.parametrize(
    "setting, field",
    [
        ("minimum_monitoring_minutes = 51\n", "minimum_monitoring_minutes"),  # more than the 50 minutes of recovery
        ("minimum_monitoring_minutes = -1\n", "minimum_monitoring_minutes"),
        ("minimum_monitoring_minutes = 'two hours'\n", "minimum_monitoring_minutes"),
        ("earliest_start_minutes_before = 241\n", "earliest_start_minutes_before"),
        ("earliest_start_minutes_before = -10\n", "earliest_start_minutes_before"),
    ],
)
def test_a_wrong_minimum_monitoring_or_earliest_start_is_refused_naming_the_treatment_and_the_field(
    tmp_path, setting, field
):
    message = config_error(tmp_path, with_checkpoints(setting))

    assert "iv_infusion" in message and field in message, message


@pytest.mark.parametrize("value", ["-1", "241", "true", '"30"'])
def test_a_wrong_clinic_wide_earliest_start_is_refused_naming_it(tmp_path, value):
    text = changed(
        "arrival_minutes_before = 20\n", f"arrival_minutes_before = 20\nearliest_start_minutes_before = {value}\n"
    )

    assert "earliest_start_minutes_before" in config_error(tmp_path, text)
