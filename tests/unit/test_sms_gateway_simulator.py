"""The SMS gateway simulator's API and control API, through Flask's test client (no server)."""

import logging

import pytest

from simulators.sms_gateway import Faults, SimulatorSettings
from simulators.sms_gateway.app import create_app
from simulators.sms_gateway.faults import BadFaults
from simulators.sms_gateway.settings import DEFAULT_PORT, DEFAULT_TOKEN
from simulators.sms_gateway.state import SimulatorState

AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
TEXT = {"to": "+14155550123", "body": "Your ride home is confirmed."}


@pytest.fixture
def http():
    return create_app(SimulatorSettings(), SimulatorState()).test_client()


def send(http, key="msg-1", **changes):
    return http.post("/v1/messages", json={**TEXT, **changes}, headers={**AUTH, "Idempotency-Key": key})


def messages(http) -> dict:
    return http.get("/_simulator/messages").get_json()


def faults(http, **body):
    response = http.post("/_simulator/faults", json=body)
    assert response.status_code == 200, response.get_json()


def test_the_settings_default_to_the_development_ones_and_are_read_from_the_environment():
    assert SimulatorSettings.from_environment({}) == SimulatorSettings("127.0.0.1", DEFAULT_PORT, DEFAULT_TOKEN)
    assert (DEFAULT_PORT, DEFAULT_TOKEN) == (8005, "dev-sms-gateway-token")
    assert SimulatorSettings.from_environment(
        {"HOST": "0.0.0.0", "PORT": "8000", "SMS_GATEWAY_TOKEN": "t"}
    ) == SimulatorSettings("0.0.0.0", 8000, "t")


def test_a_text_is_201_with_its_id_and_the_same_key_and_text_again_is_200_with_the_same_id(http):
    first = send(http)
    again = send(http)

    assert first.status_code == 201 and again.status_code == 200
    assert first.get_json()["status"] == "sent"
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert http.get(f"/v1/messages/{first.get_json()['id']}", headers=AUTH).get_json() == first.get_json()
    [message] = messages(http)["messages"]
    assert (message["to"], message["body"], message["idempotency_key"], message["key_uses"]) == (
        TEXT["to"],
        TEXT["body"],
        "msg-1",
        2,
    )


def test_the_same_key_with_another_text_is_refused(http):
    send(http)

    response = send(http, body="Another text")

    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "idempotency_key_reused"


def test_a_text_without_an_idempotency_key_is_refused(http):
    response = http.post("/v1/messages", json=TEXT, headers=AUTH)

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "idempotency_key_required"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": DEFAULT_TOKEN}])
def test_a_call_without_the_token_is_401(http, headers):
    response = http.post("/v1/messages", json=TEXT, headers={**headers, "Idempotency-Key": "k"})

    assert response.status_code == 401
    assert messages(http)["messages"] == []


@pytest.mark.parametrize("to", ["4155550123", "+1 415 555 0123", "+0415", "+1415555012345678", 14155550123])
def test_a_number_that_is_not_e164_is_422_invalid_number(http, to):
    response = send(http, to=to)

    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid_number"


@pytest.mark.parametrize("body", ["", "   ", "x" * 1601, None])
def test_an_empty_or_overlong_text_is_422(http, body):
    assert send(http, body=body).status_code == 422


def test_a_status_fault_answers_every_call_and_takes_nothing_until_cleared(http):
    faults(http, status=503)
    assert send(http).status_code == 503
    assert send(http).status_code == 503
    faults(http)

    assert send(http).status_code == 201
    assert len(messages(http)["messages"]) == 1
    assert messages(http)["idempotency_keys"] == {"msg-1": 3}


def test_a_fault_given_times_clears_itself_after_that_many_calls(http):
    faults(http, status=500, times=2)

    assert [send(http).status_code for _ in range(3)] == [500, 500, 201]
    assert http.get("/_simulator/faults").get_json()["status"] is None


def test_fail_after_accept_takes_the_text_then_answers_503_and_the_same_key_gets_it(http):
    faults(http, fail_after_accept=True, times=1)

    failed = send(http)
    again = send(http)

    assert failed.status_code == 503
    assert again.status_code == 200
    assert len(messages(http)["messages"]) == 1


def test_rejected_numbers_are_422_and_other_numbers_go_through(http):
    faults(http, reject_numbers=["+14155550123"])

    refused = send(http)
    other = send(http, key="msg-2", to="+14155550124")

    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "invalid_number"
    assert other.status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"nonsense": True},
        {"status": 200},
        {"delay_seconds": -1},
        {"reject_numbers": "+14155550123"},
        {"reject_numbers": ["555-0123"]},
        {"fail_after_accept": "yes"},
        {"times": 0},
    ],
)
def test_faults_that_make_no_sense_are_refused(http, body):
    with pytest.raises(BadFaults):
        Faults.from_json(body)
    assert http.post("/_simulator/faults", json=body).status_code == 400


def test_setting_faults_logs_no_phone_number(http, caplog):
    caplog.set_level(logging.DEBUG)

    faults(http, reject_numbers=["+14155550123"])

    assert caplog.records
    assert not [record for record in caplog.records if "4155550123" in record.getMessage()]


def test_a_delivery_report_turns_the_text_delivered(http):
    text_id = send(http).get_json()["id"]

    http.post(f"/_simulator/messages/{text_id}/deliver")

    assert send(http).get_json()["status"] == "delivered"
    assert http.get(f"/v1/messages/{text_id}", headers=AUTH).get_json()["delivered_at"]


def test_an_unknown_message_is_404(http):
    assert http.get("/v1/messages/sms_nothing", headers=AUTH).status_code == 404


def test_reset_forgets_texts_keys_and_faults(http):
    send(http)
    faults(http, status=503)

    http.post("/_simulator/reset")

    assert messages(http) == {"messages": [], "idempotency_keys": {}}
    assert send(http).status_code == 201
