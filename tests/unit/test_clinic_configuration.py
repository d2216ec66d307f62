"""The clinic configuration file: the shipped default, and clear errors for a wrong one."""
from datetime import timedelta
from pathlib import Path

import pytest

from services.scheduler.adapters.clinic_config import DEFAULT_CONFIG, ClinicConfigError, load_clinic

VALID = """\
name = "Test Clinic"
time_zone = "Europe/Paris"
chairs = ["left", "right"]

[treatment_types.iv_infusion]
label = "IV ketamine infusion"
treatment_minutes = 40
recovery_minutes = 50
ride_home_required = true
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "clinic.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def no_clinic_config_from_the_environment(monkeypatch):
    monkeypatch.delenv("CLINIC_CONFIG", raising=False)


def test_the_shipped_default_configuration_loads():
    clinic = load_clinic()

    assert clinic.time_zone.key == "America/New_York"
    assert set(clinic.treatment_types) == {"iv_infusion", "esketamine_nasal_spray", "intake_assessment"}
    assert clinic.chairs
    assert len(set(clinic.chairs)) == len(clinic.chairs)


def test_the_shipped_default_gives_the_documented_treatment_and_recovery_times():
    types = load_clinic(DEFAULT_CONFIG).treatment_types

    assert (types["iv_infusion"].treatment, types["iv_infusion"].recovery) == (timedelta(minutes=45), timedelta(minutes=45))
    assert (types["esketamine_nasal_spray"].treatment_minutes, types["esketamine_nasal_spray"].recovery_minutes) == (15, 120)
    assert (types["intake_assessment"].treatment_minutes, types["intake_assessment"].recovery_minutes) == (60, 0)
    assert types["iv_infusion"].ride_home_required and types["esketamine_nasal_spray"].ride_home_required
    assert not types["intake_assessment"].ride_home_required


def test_a_valid_file_is_read_into_the_clinic(tmp_path):
    clinic = load_clinic(write(tmp_path, VALID))

    assert clinic.name == "Test Clinic"
    assert clinic.time_zone.key == "Europe/Paris"
    assert clinic.chairs == ("left", "right")
    iv = clinic.treatment_type("iv_infusion")
    assert (iv.id, iv.label, iv.treatment_minutes, iv.recovery_minutes, iv.ride_home_required) == (
        "iv_infusion",
        "IV ketamine infusion",
        40,
        50,
        True,
    )


def test_an_unknown_time_zone_is_refused_naming_it(tmp_path):
    path = write(tmp_path, VALID.replace('"Europe/Paris"', '"Mars/Olympus_Mons"'))

    with pytest.raises(ClinicConfigError) as error:
        load_clinic(path)

    assert "time_zone" in str(error.value)
    assert "Mars/Olympus_Mons" in str(error.value)


def test_duplicate_chairs_are_refused(tmp_path):
    path = write(tmp_path, VALID.replace('["left", "right"]', '["left", "right", "left"]'))

    with pytest.raises(ClinicConfigError) as error:
        load_clinic(path)

    assert "chairs" in str(error.value)
    assert "distinct" in str(error.value)


def test_a_negative_recovery_is_refused_naming_the_field(tmp_path):
    path = write(tmp_path, VALID.replace("recovery_minutes = 50", "recovery_minutes = -5"))

    with pytest.raises(ClinicConfigError) as error:
        load_clinic(path)

    assert "recovery_minutes" in str(error.value)
    assert "iv_infusion" in str(error.value)


def test_an_unknown_key_is_refused_naming_it(tmp_path):
    path = write(tmp_path, VALID.replace("ride_home_required = true", "ride_home_required = true\nescort_minutes = 5"))

    with pytest.raises(ClinicConfigError) as error:
        load_clinic(path)

    assert "escort_minutes" in str(error.value)


def test_an_unknown_top_level_key_is_refused_naming_it(tmp_path):
    path = write(tmp_path, 'opening_hours = "9-5"\n' + VALID)

    with pytest.raises(ClinicConfigError) as error:
        load_clinic(path)

    assert "opening_hours" in str(error.value)


def test_invalid_toml_is_refused_saying_so(tmp_path):
    path = write(tmp_path, VALID + "\n[treatment_types.broken\n")

    with pytest.raises(ClinicConfigError) as error:
        load_clinic(path)

    assert "not valid TOML" in str(error.value)
    assert str(path) in str(error.value)


def test_a_missing_file_is_refused_naming_it(tmp_path):
    path = tmp_path / "absent.toml"

    with pytest.raises(ClinicConfigError) as error:
        load_clinic(path)

    assert str(path) in str(error.value)


def test_a_clinic_without_chairs_is_refused(tmp_path):
    path = write(tmp_path, VALID.replace('["left", "right"]', "[]"))

    with pytest.raises(ClinicConfigError, match="chairs"):
        load_clinic(path)


def test_a_treatment_length_given_as_text_is_refused(tmp_path):
    path = write(tmp_path, VALID.replace("treatment_minutes = 40", 'treatment_minutes = "40"'))

    with pytest.raises(ClinicConfigError, match="treatment_minutes"):
        load_clinic(path)


def test_the_clinic_config_environment_variable_chooses_another_file(tmp_path, monkeypatch):
    monkeypatch.setenv("CLINIC_CONFIG", str(write(tmp_path, VALID)))

    clinic = load_clinic()

    assert clinic.name == "Test Clinic"
    assert clinic.time_zone.key == "Europe/Paris"


def test_a_wrong_file_named_by_clinic_config_is_refused_rather_than_falling_back_to_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("CLINIC_CONFIG", str(write(tmp_path, VALID.replace('"Europe/Paris"', '"Nowhere/Land"'))))

    with pytest.raises(ClinicConfigError, match="Nowhere/Land"):
        load_clinic()
