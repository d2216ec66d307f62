"""The SMS channel against the gateway simulator over real HTTP on loopback: one text per message however often it
is tried (5xx, a text taken and then answered 503, an answer too slow), the message id as the idempotency key every
time, and each refusal told apart: a bad number is permanent, our own token refused or an outage is temporary."""

import logging
import socket
import traceback

import pytest
import requests

from services.notifications.adapters.sms_gateway import SmsGatewayChannel
from services.notifications.domain.outgoing import DeliveryFailed, Outgoing, Receipt, ReceiptStatus
from simulators.sms_gateway import start_simulator

TOKEN = "test-sms-gateway-token"
PHONE = "+14155550123"
BODY = "Philippa, your ride home is confirmed: Bo Lee picks you up at 11:40."


@pytest.fixture
def simulator():
    simulator = start_simulator(token=TOKEN)
    yield simulator
    simulator.stop()


def text(message_id: str = "msg-0001", to: str = PHONE, body: str = BODY) -> Outgoing:
    return Outgoing(message_id=message_id, channel="sms", to=to, body=body)


def channel(simulator, *, token: str = TOKEN, **options) -> SmsGatewayChannel:
    # A short backoff keeps the tests quick; the retries are the same ones.
    return SmsGatewayChannel(simulator.url, token, backoff=options.pop("backoff", 0.01), **options)


def set_faults(simulator, **faults) -> None:
    requests.post(f"{simulator.url}/_simulator/faults", json=faults, timeout=5).raise_for_status()


def taken(simulator) -> dict:
    return requests.get(f"{simulator.url}/_simulator/messages", timeout=5).json()


def failure_of(sms: SmsGatewayChannel, outgoing: Outgoing | None = None) -> DeliveryFailed:
    with pytest.raises(DeliveryFailed) as caught:
        sms.send(outgoing or text())
    return caught.value


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_text_goes_to_the_gateway_once_with_the_message_id_as_its_idempotency_key(simulator):
    receipt = channel(simulator).send(text())

    [message] = taken(simulator)["messages"]
    assert receipt == Receipt(ReceiptStatus.SENT, gateway_id=message["id"])
    assert (message["to"], message["body"]) == (PHONE, BODY)
    assert (message["idempotency_key"], message["key_uses"]) == ("msg-0001", 1)


def test_a_phone_written_with_spaces_and_hyphens_goes_to_the_gateway_as_bare_e164(simulator):
    channel(simulator).send(text(to="+1 415-555-0123"))

    [message] = taken(simulator)["messages"]
    assert message["to"] == PHONE


def test_the_same_message_sent_again_is_the_same_text_at_the_gateway(simulator):
    sms = channel(simulator)

    first = sms.send(text())
    again = sms.send(text())

    assert first == again
    [message] = taken(simulator)["messages"]
    assert message["key_uses"] == 2


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_a_passing_failure_is_retried_with_the_same_key_and_one_text_is_taken(simulator, status):
    set_faults(simulator, status=status, times=2)

    receipt = channel(simulator, attempts=3).send(text())

    assert receipt.status is ReceiptStatus.SENT
    assert taken(simulator)["idempotency_keys"] == {"msg-0001": 3}
    assert len(taken(simulator)["messages"]) == 1


def test_a_text_taken_and_then_answered_503_is_not_taken_twice(simulator):
    set_faults(simulator, fail_after_accept=True, times=1)

    receipt = channel(simulator).send(text())

    [message] = taken(simulator)["messages"]
    assert receipt == Receipt(ReceiptStatus.SENT, gateway_id=message["id"])
    assert message["key_uses"] == 2


def test_an_answer_slower_than_the_timeout_is_retried_with_the_same_key_and_one_text_is_taken(simulator):
    set_faults(simulator, delay_seconds=2, times=1)

    receipt = channel(simulator, timeout=(3.05, 0.5)).send(text())

    [message] = taken(simulator)["messages"]
    assert receipt == Receipt(ReceiptStatus.SENT, gateway_id=message["id"])
    assert message["key_uses"] == 2


def test_an_outage_that_outlasts_the_retries_is_a_temporary_failure(simulator):
    set_faults(simulator, status=503)

    failure = failure_of(channel(simulator, attempts=3))

    assert not failure.permanent
    assert "503" in failure.reason
    assert taken(simulator) == {"messages": [], "idempotency_keys": {"msg-0001": 3}}


def test_an_unreachable_gateway_is_a_temporary_failure():
    sms = SmsGatewayChannel(f"http://127.0.0.1:{closed_port()}", TOKEN, attempts=2, backoff=0.01)

    failure = failure_of(sms)

    assert not failure.permanent
    assert "unreachable" in failure.reason


@pytest.mark.parametrize("number", ["555-0123", "+0123", "4155550123", "+1415555012345678"])
def test_a_number_that_is_not_e164_is_a_permanent_failure_and_is_not_retried(simulator, number):
    failure = failure_of(channel(simulator), text(to=number))

    assert failure.permanent
    assert "422" in failure.reason and "invalid_number" in failure.reason
    assert taken(simulator) == {"messages": [], "idempotency_keys": {"msg-0001": 1}}


def test_a_number_the_gateway_cannot_text_is_a_permanent_failure(simulator):
    set_faults(simulator, reject_numbers=[PHONE])

    failure = failure_of(channel(simulator))
    other = channel(simulator).send(text("msg-0002", to="+14155550124"))

    assert failure.permanent
    assert other.status is ReceiptStatus.SENT
    assert [message["to"] for message in taken(simulator)["messages"]] == ["+14155550124"]


@pytest.mark.parametrize("status", [400, 422])
def test_a_refusal_of_the_message_is_permanent_whatever_its_code(simulator, status):
    set_faults(simulator, status=status)

    failure = failure_of(channel(simulator))

    assert failure.permanent
    assert taken(simulator)["idempotency_keys"] == {"msg-0001": 1}


def test_our_token_refused_is_a_temporary_failure_that_is_not_retried_at_once(simulator):
    failure = failure_of(channel(simulator, token="revoked-token"))

    assert not failure.permanent
    assert "401" in failure.reason
    assert taken(simulator) == {"messages": [], "idempotency_keys": {"msg-0001": 1}}


def test_a_text_the_gateway_reports_delivered_comes_back_delivered_when_it_is_asked_again(simulator):
    sms = channel(simulator)
    sent = sms.send(text())
    requests.post(f"{simulator.url}/_simulator/messages/{sent.gateway_id}/deliver", timeout=5).raise_for_status()

    again = sms.send(text())

    assert again == Receipt(ReceiptStatus.DELIVERED, gateway_id=sent.gateway_id)
    assert len(taken(simulator)["messages"]) == 1


def test_no_log_line_failure_reason_or_traceback_holds_the_number_or_the_text(simulator, caplog):
    caplog.set_level(logging.DEBUG)
    failures = []
    channel(simulator).send(text())
    set_faults(simulator, reject_numbers=[PHONE], times=1)
    failures.append(failure_of(channel(simulator), text("msg-0002")))
    failures.append(failure_of(channel(simulator), text("msg-0003", to="Philippa 415")))
    failures.append(failure_of(channel(simulator, token="revoked-token"), text("msg-0004")))
    set_faults(simulator, status=503)
    failures.append(failure_of(channel(simulator), text("msg-0005")))
    set_faults(simulator, fail_after_accept=True, delay_seconds=1)
    failures.append(failure_of(channel(simulator, timeout=(3.05, 0.2), attempts=2), text("msg-0006")))

    texts = [record.getMessage() for record in caplog.records]
    texts += [line for failure in failures for line in traceback.format_exception(failure)]
    assert any("msg-0001" in line for line in texts), "the channel logs the message id"
    for private in (PHONE, "4155550123", "415-555", "Philippa", "Bo Lee", "11:40"):
        assert not [line for line in texts if private in line], private
