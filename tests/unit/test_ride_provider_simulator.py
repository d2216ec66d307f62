"""The ride-provider simulator's API and control API, through Flask's test client (no server, no driver flow)."""

import pytest

from simulators.ride_provider import Faults, SimulatorSettings
from simulators.ride_provider.app import create_app
from simulators.ride_provider.driver_flow import DriverFlow
from simulators.ride_provider.faults import BadFaults
from simulators.ride_provider.settings import DEFAULT_KEY, DEFAULT_PORT, DEFAULT_WEBHOOK_SECRET, DEFAULT_WEBHOOK_URL
from simulators.ride_provider.state import SimulatorState
from simulators.ride_provider.webhooks import WebhookSender

AUTH = {"Authorization": f"Bearer {DEFAULT_KEY}"}
BOOKING = {
    "reference": "ride-1",
    "pickup_at": "2027-01-05T12:00:00-05:00",
    "pickup_address": "1200 Clinic Way",
    "dropoff_address": "742 Evergreen Terrace",
    "will_call": True,
}


@pytest.fixture
def state():
    return SimulatorState()


@pytest.fixture
def http(state):
    settings = SimulatorSettings(webhook_url="")
    webhooks = WebhookSender(state, "", "secret", ())
    return create_app(settings, state, DriverFlow(state, webhooks, (1, 1, 2)), webhooks).test_client()


def book(http, key="book-ride-1", **changes):
    return http.post("/v1/rides", json={**BOOKING, **changes}, headers={**AUTH, "Idempotency-Key": key})


def test_the_settings_default_to_the_development_ones():
    settings = SimulatorSettings.from_environment({})

    assert (settings.port, settings.api_key, settings.webhook_url, settings.webhook_secret) == (
        DEFAULT_PORT,
        DEFAULT_KEY,
        DEFAULT_WEBHOOK_URL,
        DEFAULT_WEBHOOK_SECRET,
    )
    assert (DEFAULT_PORT, DEFAULT_KEY) == (8004, "dev-ride-provider-key")
    assert DEFAULT_WEBHOOK_URL == "http://127.0.0.1:8002/webhooks/ride-provider"


def test_the_settings_are_read_from_the_environment():
    settings = SimulatorSettings.from_environment(
        {
            "PORT": "9000",
            "HOST": "0.0.0.0",
            "RIDE_PROVIDER_KEY": "k",
            "RIDE_PROVIDER_WEBHOOK_URL": "http://transport:8000/webhooks/ride-provider",
            "RIDE_PROVIDER_WEBHOOK_SECRET": "s",
            "RIDE_PROVIDER_DRIVER_DELAYS": "0.5,0.5,1",
        }
    )

    assert settings == SimulatorSettings(
        host="0.0.0.0",
        port=9000,
        api_key="k",
        webhook_url="http://transport:8000/webhooks/ride-provider",
        webhook_secret="s",
        driver_delays=(0.5, 0.5, 1.0),
    )


@pytest.mark.parametrize("delays", ["1,2", "a,b,c", "1,-1,1"])
def test_driver_delays_that_are_not_three_seconds_are_refused(delays):
    with pytest.raises(ValueError, match="RIDE_PROVIDER_DRIVER_DELAYS"):
        SimulatorSettings.from_environment({"RIDE_PROVIDER_DRIVER_DELAYS": delays})


def test_a_booking_is_201_and_the_same_booking_again_is_200_with_the_same_ride(http):
    first, again = book(http), book(http)

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json == again.json
    assert first.json["status"] == "will_call" and first.json["reference"] == "ride-1"


def test_a_call_without_the_bearer_key_is_401(http):
    answer = http.post("/v1/rides", json=BOOKING, headers={"Idempotency-Key": "k", "Authorization": "Bearer wrong"})

    assert answer.status_code == 401
    assert answer.json["error"]["code"] == "unauthorized"


def test_a_change_without_an_idempotency_key_is_400(http):
    answer = http.post("/v1/rides", json=BOOKING, headers=AUTH)

    assert answer.status_code == 400
    assert answer.json["error"]["code"] == "idempotency_key_required"


@pytest.mark.parametrize(
    "changes, code",
    [
        ({"pickup_at": "2027-01-05T12:00:00"}, "invalid_request"),
        ({"pickup_at": "soon"}, "invalid_request"),
        ({"reference": ""}, "invalid_request"),
        ({"pickup_address": "  "}, "invalid_address"),
        ({"dropoff_address": None}, "invalid_address"),
        ({"will_call": "yes"}, "invalid_request"),
    ],
)
def test_a_malformed_booking_is_422_naming_the_field_and_not_its_value(http, state, changes, code):
    answer = book(http, **changes)

    assert answer.status_code == 422
    assert answer.json["error"]["code"] == code
    assert not state.rides
    assert "Evergreen" not in answer.get_data(as_text=True)


def test_faults_set_to_act_a_number_of_times_clear_themselves(http, state):
    assert http.post("/_simulator/faults", json={"status": 503, "times": 2}).status_code == 200

    statuses = [book(http).status_code for _ in range(3)]

    assert statuses == [503, 503, 201]
    assert state.faults == Faults()


def test_an_empty_fault_list_clears_the_faults(http, state):
    http.post("/_simulator/faults", json={"refuse": True})
    http.post("/_simulator/faults", json={})

    assert state.faults == Faults()
    assert book(http).status_code == 201


@pytest.mark.parametrize(
    "faults",
    [[], {"status": 200}, {"status": "503"}, {"delay_seconds": -1}, {"times": 0}, {"refuse": "yes"}, {"explode": True}],
)
def test_faults_that_make_no_sense_are_refused(faults):
    with pytest.raises(BadFaults):
        Faults.from_json(faults)


def test_the_control_api_refuses_faults_that_make_no_sense_with_400(http):
    answer = http.post("/_simulator/faults", json={"status": 200})

    assert answer.status_code == 400
    assert answer.json["error"]["code"] == "bad_faults"


def test_fail_after_commit_books_the_ride_answers_503_and_the_retry_gets_the_ride(http, state):
    http.post("/_simulator/faults", json={"fail_after_commit": True})

    failed, retried = book(http), book(http)

    assert failed.status_code == 503
    assert retried.status_code == 200
    assert list(state.rides) == [retried.json["id"]]


def test_the_rides_report_counts_every_use_of_a_key(http):
    http.post("/_simulator/faults", json={"status": 503, "times": 1})
    book(http)
    book(http)

    report = http.get("/_simulator/rides").json

    assert report["idempotency_keys"] == {"book-ride-1": 2}
    assert report["rides"][0]["idempotency_keys"] == {"book-ride-1": 2}


def test_reset_forgets_every_ride_and_fault(http, state):
    book(http)
    http.post("/_simulator/faults", json={"refuse": True})

    http.post("/_simulator/reset")

    assert http.get("/_simulator/rides").json == {"rides": [], "idempotency_keys": {}}
    assert state.faults == Faults()


def test_the_provider_may_cancel_a_ride_itself(http):
    ride = book(http).json

    answer = http.post(f"/_simulator/rides/{ride['id']}/cancel")

    assert answer.json["status"] == "cancelled"
    assert http.get(f"/v1/rides/{ride['id']}", headers=AUTH).json["status"] == "cancelled"


def test_an_unknown_route_under_v1_answers_a_json_error(http):
    answer = http.get("/v1/nothing-here", headers=AUTH)

    assert answer.status_code == 404
    assert answer.json["error"]["code"] == "not_found"
