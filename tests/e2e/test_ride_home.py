"""The ride home end to end, with the services as separate processes on RabbitMQ and PostgreSQL: a session booked
with an escort; the escort's text carries a link; opening it changes nothing; check-in waits for the ride; the
escort confirms on the page; check-in goes through; the discharge dispatches the ride and calls the escort in."""

import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from e2e.test_services_as_processes import _drain, api, eventually, services_as_processes

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "e2e-token"
PATIENT = {"name": "Henrietta Vasquez-Oyelaran", "phone": "+14155550177", "preferred_channel": "sms"}
ESCORT = {"mode": "escort", "escort_name": "Bartholomew Oyelaran", "escort_phone": "+14155550166"}
PRIVATE_STRINGS = ["Henrietta", "Vasquez", "4155550177", "Bartholomew", "Oyelaran", "4155550166"]
# A zone where it is the middle of the day now, so that a session starting soon is on today's date there.
ZONES = ("America/Los_Angeles", "America/New_York", "Europe/London", "Asia/Kolkata", "Asia/Tokyo", "Pacific/Auckland")


def midday_zone() -> ZoneInfo:
    for name in ZONES:
        if 6 <= datetime.now(ZoneInfo(name)).hour <= 17:
            return ZoneInfo(name)
    raise AssertionError("some zone of the list is always between 06:00 and 17:59")


def clinic_file(path: Path, zone: ZoneInfo) -> Path:
    every_day = "\n".join(
        f'{day} = ["00:00-24:00"]'
        for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    )
    path.write_text(f'''
name = "Harbourside Test Clinic"
address = "1 Harbour Road"
time_zone = "{zone.key}"
chairs = ["chair-1"]
slot_minutes = 5
late_cancellation_hours = 24
arrival_minutes_before = 15
[opening_hours]
{every_day}
[clinicians.dr-one]
name = "Dr. One"
[treatment_types.iv_infusion]
label = "IV ketamine infusion"
treatment_minutes = 45
recovery_minutes = 45
turnover_minutes = 15
ride_home_required = true
intake_required = false
minimum_notice_minutes = 0
booking_horizon_days = 30
minimum_spacing_hours = 0
''')
    return path


@pytest.fixture
def system(vhost, postgres_url, tmp_path):
    zone = midday_zone()
    clinic = clinic_file(tmp_path / "clinic.toml", zone)
    with services_as_processes(vhost, postgres_url, tmp_path, CLINIC_CONFIG=str(clinic), CLINIC_TIME_ZONE=zone.key) as (
        urls,
        logs,
    ):
        yield urls, logs, vhost, zone


def next_start(zone: ZoneInfo) -> datetime:
    soon = datetime.now(zone) + timedelta(minutes=10)
    return soon.replace(minute=soon.minute - soon.minute % 5, second=0, microsecond=0) + timedelta(minutes=5)


def messages_to_escort(urls, session_id: str, kind: str) -> list[dict]:
    reply = api("GET", f"{urls['notifications']}/api/messages", params={"session_id": session_id})
    return [m for m in reply.json()["messages"] if m["kind"] == kind and m["status"] in ("sent", "stored")]


def ride_of(urls, session_id: str) -> dict | None:
    rides = api("GET", f"{urls['transport']}/api/rides", params={"session_id": session_id}).json()["rides"]
    return rides[0] if rides else None


def test_an_escort_confirms_by_the_link_in_their_text_then_check_in_is_allowed_and_the_discharge_calls_them_in(system):
    urls, logs, vhost, zone = system
    patient = api("POST", f"{urls['scheduler']}/api/patients", json=PATIENT)
    assert patient.status_code == 201, patient.text
    booking = api(
        "POST",
        f"{urls['scheduler']}/api/sessions",
        json={
            "patient_id": patient.json()["id"],
            "treatment_type": "iv_infusion",
            "starts_at": next_start(zone).isoformat(),
            "ride_home": ESCORT,
        },
    )
    assert booking.status_code == 201, booking.text
    session_id = booking.json()["id"]

    [request] = eventually(
        lambda: messages_to_escort(urls, session_id, "escort_ride_request"), what="the escort's text with the link"
    )
    assert request["recipient"] == "escort"
    [link] = re.findall(r"https?://\S+/rides/escort/\S+", request["body"])
    assert link.startswith(urls["transport"])

    too_early = api("POST", f"{urls['scheduler']}/api/sessions/{session_id}/check-in")
    assert too_early.status_code == 409 and too_early.json()["reason"] == "ride_not_confirmed", too_early.text

    page = requests.get(link, timeout=10)
    preview = requests.head(link, timeout=10)
    assert page.status_code == 200 and preview.status_code == 200
    assert "Henrietta" in page.text and "Vasquez" not in page.text, "the patient's first name at most"
    assert "Confirm pickup" in page.text and "1 Harbour Road" in page.text
    assert ride_of(urls, session_id)["status"] == "requested", "opening the link changes nothing"

    [form_token] = set(re.findall(r'name="form_token" value="([^"]+)"', page.text))
    confirmed = requests.post(link, data={"form_token": form_token, "action": "confirm"}, timeout=10)
    assert confirmed.status_code == 200, confirmed.text
    again = requests.post(link, data={"form_token": form_token, "action": "confirm"}, timeout=10)
    assert again.status_code == 410, "a used link says so and changes nothing"
    assert ride_of(urls, session_id)["status"] == "confirmed"

    eventually(
        lambda: api("GET", f"{urls['scheduler']}/api/sessions/{session_id}").json()["ride_status"] == "confirmed",
        what="the scheduler learning that the ride is confirmed",
    )
    checked_in = api("POST", f"{urls['scheduler']}/api/sessions/{session_id}/check-in")
    assert checked_in.status_code == 200, checked_in.text
    assert checked_in.json()["check_in_override_reason"] is None
    assert api("POST", f"{urls['scheduler']}/api/sessions/{session_id}/start-treatment").status_code == 200
    # This test is about the ride home, not the monitoring gate: the clinician discharges right after the start with
    # an override reason, which the gate accepts (and keeps with the session) instead of waiting 90 minutes.
    discharged = api(
        "POST",
        f"{urls['scheduler']}/api/sessions/{session_id}/discharge",
        json={"override_reason": "End-to-end test: the ride home, not the monitoring"},
    )
    assert discharged.status_code == 200, discharged.text

    eventually(lambda: ride_of(urls, session_id)["status"] == "dispatched", what="the ride dispatched at discharge")
    eventually(lambda: messages_to_escort(urls, session_id, "escort_patient_ready"), what="the escort told to come now")
    eventually(
        lambda: api("GET", f"{urls['scheduler']}/api/sessions/{session_id}").json()["ride_status"] == "dispatched",
        what="the scheduler learning that the ride is dispatched",
    )

    audit = _drain(vhost.url, "audit.events")
    types = [event_type for event_type, _ in audit]
    for expected in (
        "session.booked",
        "ride.requested",
        "ride.confirmed",
        "session.checked_in",
        "session.discharged",
        "ride.dispatched",
    ):
        assert expected in types, f"{expected} never crossed the broker; saw {types}"
    token = link.rsplit("/", 1)[1]
    for _, body in audit:
        for private in (*PRIVATE_STRINGS, token):
            assert private not in body, f"{private!r} travelled on the broker"
    for name, log in logs.items():
        text = log.read_text()
        for private in (*PRIVATE_STRINGS, token):
            assert private not in text, f"{private!r} appears in the {name} log"
