"""A patient's contact preferences, as the domain judges them: what may change, and that a patient who prefers e-mail
keeps an address to write to."""

from datetime import UTC, datetime

import pytest

from services.scheduler.domain.errors import InvalidRequest
from services.scheduler.domain.patients import EMAIL_NEEDED, ContactChannel, Language, Patient, check_reachable


def ann(**fields) -> Patient:
    return Patient(
        id="patient-1",
        full_name="Ann Lee",
        phone="+14155550123",
        email=fields.pop("email", None),
        preferred_channel=fields.pop("preferred_channel", ContactChannel.SMS),
        created_at=datetime(2026, 11, 30, 12, 0, tzinfo=UTC),
        **fields,
    )


def test_a_patient_is_written_to_in_english_and_gets_reminders_unless_told_otherwise():
    patient = ann()

    assert (patient.language, patient.reminders_opt_out) == (Language.EN, False)


def test_a_change_sets_only_the_fields_it_names():
    patient = ann(email="ann@example.org")

    patient.change_contact({"language": Language.ES, "reminders_opt_out": True})

    assert patient == ann(email="ann@example.org", language=Language.ES, reminders_opt_out=True)


def test_a_change_to_email_with_its_address_is_accepted():
    patient = ann()

    patient.change_contact({"preferred_channel": ContactChannel.EMAIL, "email": "ann@example.org"})

    assert (patient.preferred_channel, patient.email) == (ContactChannel.EMAIL, "ann@example.org")


@pytest.mark.parametrize(
    "stored, changes",
    [
        ({}, {"preferred_channel": ContactChannel.EMAIL}),
        ({"email": "ann@example.org", "preferred_channel": ContactChannel.EMAIL}, {"email": None}),
        ({"email": "ann@example.org", "preferred_channel": ContactChannel.EMAIL}, {"email": ""}),
    ],
)
def test_a_change_leaving_a_patient_who_prefers_email_without_an_address_is_refused_and_changes_nothing(
    stored, changes
):
    patient = ann(**stored)

    with pytest.raises(InvalidRequest) as refused:
        patient.change_contact(changes)

    assert refused.value.errors == {"email": [EMAIL_NEEDED]}
    assert patient == ann(**stored)


def test_a_change_of_nothing_is_refused():
    with pytest.raises(InvalidRequest) as refused:
        ann().change_contact({})

    assert list(refused.value.errors) == ["_schema"]


@pytest.mark.parametrize("field", ["full_name", "id", "created_at"])
def test_a_change_of_anything_but_a_contact_preference_is_refused_naming_it_and_changes_nothing(field):
    patient = ann()

    with pytest.raises(InvalidRequest) as refused:
        patient.change_contact({"language": Language.ES, field: "x"})

    assert list(refused.value.errors) == [field]
    assert patient == ann()


def test_registration_by_email_needs_an_address():
    check_reachable(ContactChannel.SMS, None)
    check_reachable(ContactChannel.EMAIL, "ann@example.org")

    with pytest.raises(InvalidRequest):
        check_reachable(ContactChannel.EMAIL, None)
