"""The three services' logs as an operator reads them: one JSON object per line naming its service, one session
followed across the three services by grepping its id, and no detail of the patient on any line."""

import json

import pytest
from e2e.test_services_as_processes import (
    api,
    book_with_intake,
    eventually,
    open_nine_oclock_starts,
    services_as_processes,
)

from simulators.ride_provider.server import start_simulator

pytestmark = pytest.mark.e2e

PATIENT = {
    "name": "Ottoline Fairweather-Quist",
    "phone": "+14155550133",
    "email": "ottoline.fq@example.net",
    "preferred_channel": "email",
}
DROPOFF = "77 Larkspur Crescent, Apartment 9"
PRIVATE_STRINGS = [
    "Ottoline",
    "Fairweather",
    "Quist",
    "4155550133",
    "ottoline.fq",
    "example.net",
    "Larkspur",
    "Crescent",
    "Wolcott",
]
FIELDS = {"time", "level", "logger", "message", "service", "event_type", "event_id", "correlation_id", "thread"}
PROVIDER_KEY = "e2e-provider-key"


@pytest.fixture
def ride_provider():
    # Its webhooks go nowhere: this test follows the request of a provider ride, not the provider's answers.
    simulator = start_simulator(port=0, api_key=PROVIDER_KEY, webhook_url="http://127.0.0.1:1/webhooks")
    yield simulator
    simulator.stop()


@pytest.fixture
def system(vhost, postgres_url, tmp_path, ride_provider):
    with services_as_processes(
        vhost,
        postgres_url,
        tmp_path,
        NOTIFICATION_GRACE="0s",
        QUIET_HOURS="off",
        RIDE_PROVIDER_URL=ride_provider.url,
        RIDE_PROVIDER_KEY=PROVIDER_KEY,
        LOG_FORMAT="json",
    ) as (urls, logs):
        yield urls, logs


def lines_of(log) -> list[str]:
    return [line for line in log.read_text().splitlines() if line.strip()]


def test_every_log_line_is_json_naming_its_service_a_session_id_finds_it_in_all_three_and_no_patient_detail_appears(
    system,
):
    urls, logs = system
    starts_at = open_nine_oclock_starts(urls["scheduler"], days_ahead=31)[0]
    ride_home = {"mode": "provider", "dropoff_address": DROPOFF}
    session = book_with_intake(urls["scheduler"], PATIENT, starts_at, ride_home, recorded_by="Dr. Ines Wolcott")
    session_id = session["id"]

    eventually(
        lambda: [
            ride
            for ride in api("GET", f"{urls['transport']}/api/rides", params={"session_id": session_id}).json()["rides"]
            if ride.get("provider_ride_id")
        ],
        what="transport booking the ride with the provider",
    )
    eventually(
        lambda: [
            m
            for m in api("GET", f"{urls['notifications']}/api/messages", params={"session_id": session_id}).json()[
                "messages"
            ]
            if m["status"] in ("sent", "stored") and m["recipient"] == "patient"
        ],
        what="notifications sending the preparation instructions",
    )
    # The scheduler hears back about the ride (ride.requested) under the session's id.
    eventually(
        lambda: any(session_id in line for line in lines_of(logs["scheduler"])),
        what="the scheduler logging a line about the session",
    )

    for name, log in logs.items():
        lines = lines_of(log)
        assert lines, f"the {name} log is empty"
        for number, line in enumerate(lines, start=1):
            try:
                record = json.loads(line)
            except ValueError:
                pytest.fail(f"line {number} of the {name} log is not JSON: {line[:200]!r}")
            assert FIELDS <= set(record), f"line {number} of the {name} log lacks {FIELDS - set(record)}: {line[:200]}"
            assert record["service"] == name, (
                f"line {number} of the {name} log names {record['service']!r}: {line[:200]}"
            )
            for private in PRIVATE_STRINGS:
                assert private not in line, f"{private!r} appears on line {number} of the {name} log"
        about_the_session = [json.loads(line) for line in lines if session_id in line]
        assert about_the_session, f"grepping the session id finds nothing in the {name} log"
        assert any(record["correlation_id"] == session_id and record["event_type"] for record in about_the_session), (
            f"no line of the {name} log carries the session id as the correlation id of an event"
        )
