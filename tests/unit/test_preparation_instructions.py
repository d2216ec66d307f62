"""The wording of the preparation instructions a patient receives once a session is booked."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.notifications.domain.contacts import ClinicFacts, Contact
from services.notifications.domain.messages import (
    PREPARATION_INSTRUCTIONS,
    MessageStatus,
    preparation_instructions,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CLINIC = ClinicFacts(
    name="Riverside Ketamine Clinic",
    time_zone=ZoneInfo("America/New_York"),
    treatment_labels={
        "iv_infusion": "IV ketamine infusion",
        "esketamine_nasal_spray": "Esketamine nasal spray",
        "intake_assessment": "Intake assessment",
    },
    arrival_lead=timedelta(minutes=15),
)
ANN = Contact(
    patient_id="patient-1", name="Ann Lee", phone="+14155550123", email="ann@example.org", preferred_channel="sms"
)


def session_booked(
    *,
    treatment_type="iv_infusion",
    starts_at=datetime(2027, 1, 5, 14, 0, tzinfo=UTC),
    treatment=45,
    recovery=45,
    ride_home_mode="escort",
):
    return {
        "session_id": "session-1",
        "patient_id": "patient-1",
        "treatment_type": treatment_type,
        "starts_at": starts_at,
        "treatment_ends_at": starts_at + timedelta(minutes=treatment),
        "recovery_ends_at": starts_at + timedelta(minutes=treatment + recovery),
        "chair_id": "chair-1",
        "ride_home_mode": ride_home_mode,
    }


def instructions(data=None, contact=ANN):
    return preparation_instructions(
        message_id="message-1", session_booked=data or session_booked(), contact=contact, clinic=CLINIC, now=NOW
    )


def intake():
    return instructions(
        session_booked(treatment_type="intake_assessment", treatment=60, recovery=0, ride_home_mode="none")
    )


def test_the_instructions_ask_for_a_light_meal_comfortable_clothes_and_the_list_of_medications():
    body = instructions().body.lower()

    assert "light meal" in body
    assert "comfortable clothes" in body
    assert "medications" in body


def test_the_instructions_say_the_patient_must_not_drive_and_needs_a_ride_home():
    body = instructions().body.lower()

    assert "not drive" in body
    assert "ride home" in body
    assert "escort" in body


def test_the_arrival_time_is_15_minutes_before_the_start_in_the_clinics_local_time():
    # 14:00 UTC on 5 January is 09:00 in New York (EST, UTC-5).
    message = instructions()

    assert "arrive by 08:45" in message.body
    assert "13:45" not in message.body


def test_the_arrival_time_follows_the_clinics_configured_lead():
    clinic = ClinicFacts(CLINIC.name, CLINIC.time_zone, CLINIC.treatment_labels, arrival_lead=timedelta(minutes=30))

    message = preparation_instructions(
        message_id="message-1", session_booked=session_booked(), contact=ANN, clinic=clinic, now=NOW
    )

    assert "arrive by 08:30" in message.body


def test_the_arrival_time_follows_daylight_saving_time():
    # 13:00 UTC on 6 July is 09:00 in New York (EDT, UTC-4).
    message = instructions(session_booked(starts_at=datetime(2027, 7, 6, 13, 0, tzinfo=UTC)))

    assert "arrive by 08:45" in message.body


def test_the_start_is_given_with_its_local_date_and_time():
    message = instructions()

    assert "Tuesday 5 January 2027 at 09:00" in message.body
    assert "Tuesday 5 January 2027 at 09:00" in message.subject
    assert "IV ketamine infusion" in message.subject


def test_the_pickup_time_is_when_recovery_ends_in_local_time():
    # 45 minutes of treatment and 45 of recovery from 09:00 local: collected at 10:30.
    body = instructions().body

    assert "collect you at 10:30" in body
    assert "90 minutes" in body


def test_a_long_recovery_moves_the_pickup_time_with_it():
    body = instructions(session_booked(treatment_type="esketamine_nasal_spray", treatment=15, recovery=120)).body

    assert "collect you at 11:15" in body
    assert "135 minutes" in body
    assert "Esketamine nasal spray" in body


def test_the_instructions_greet_the_patient_by_first_name_and_name_the_clinic():
    body = instructions().body

    assert body.startswith("Hello Ann,")
    assert "Riverside Ketamine Clinic" in body


def test_intake_wording_does_not_talk_about_the_escort_or_the_ride():
    message = intake()
    text = (message.subject + "\n" + message.body).lower()

    assert "escort" not in text
    assert "ride home" not in text
    assert "collect you" not in text


def test_intake_wording_asks_for_medications_and_says_when_it_ends():
    body = intake().body

    assert "arrive by 08:45" in body
    assert "medications" in body
    assert "over by 10:00" in body


def test_a_new_message_is_pending_kind_preparation_instructions_for_the_session_and_patient():
    message = instructions()

    assert message.id == "message-1"
    assert message.status is MessageStatus.PENDING
    assert message.kind == PREPARATION_INSTRUCTIONS
    assert (message.session_id, message.patient_id) == ("session-1", "patient-1")
    assert message.created_at == NOW
    assert not message.settled


@pytest.mark.parametrize(
    "preferred, email, channel",
    [("sms", "ann@example.org", "sms"), ("email", "ann@example.org", "email"), ("email", None, "sms")],
)
def test_the_message_goes_by_the_preferred_channel_or_by_sms_when_that_channel_has_no_address(
    preferred, email, channel
):
    contact = Contact(
        patient_id="patient-1", name="Ann Lee", phone="+14155550123", email=email, preferred_channel=preferred
    )

    assert instructions(contact=contact).channel == channel


def test_an_unknown_treatment_type_is_called_an_appointment():
    message = instructions(session_booked(treatment_type="something_new"))

    assert "your appointment at Riverside Ketamine Clinic" in message.body
