"""The ride provider client against the simulator, over real HTTP on loopback: a booking is made once however often
it is retried, outages and slow answers are retried with the same idempotency key, refusals are not, and the driver
flow's webhooks arrive signed, repeated and reordered when the simulator is told to."""

import json
import logging
import socket
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from integration.helpers import eventually

from services.transport.adapters.ride_provider import (
    ProviderConflict,
    ProviderRefused,
    ProviderRideNotFound,
    ProviderUnavailable,
    RideProviderClient,
)
from services.transport.adapters.webhook_signatures import InvalidWebhook, verify_webhook
from services.transport.domain.provider import ProviderBooking
from simulators.ride_provider import SimulatorSettings, start_simulator

KEY = "test-ride-provider-key"
SECRET = "test-webhook-secret"
PICKUP_ADDRESS = "1200 Clinic Way, Springfield"
DROPOFF_ADDRESS = "742 Evergreen Terrace, Springfield"
PICKUP_AT = datetime(2027, 1, 5, 12, 0, tzinfo=timezone(timedelta(hours=-5)))


class WebhookReceiver:
    """A webhook endpoint on a free loopback port: keeps every request, answers with the statuses it is given."""

    def __init__(self):
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []  # statuses for the next requests, then 204
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.received.append((dict(self.headers.items()), body))
                    status = receiver.answers.pop(0) if receiver.answers else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/webhooks/ride-provider"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def bodies(self) -> list[dict]:
        with self._lock:
            return [json.loads(body) for _, body in self.received]

    def stop(self):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver():
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def simulator(receiver):
    settings = SimulatorSettings(
        port=0,
        api_key=KEY,
        webhook_url=receiver.url,
        webhook_secret=SECRET,
        driver_delays=(0.05, 0.05, 0.1),
        webhook_retry_delays=(0.1, 0.2, 0.4),
    )
    simulator = start_simulator(settings)
    yield simulator
    simulator.stop()


@pytest.fixture
def client(simulator):
    client = RideProviderClient(simulator.url, KEY, timeout=(1, 2), attempts=4, backoff=0.05)
    yield client
    client.close()


def set_faults(simulator, **faults) -> None:
    response = requests.post(f"{simulator.url}/_simulator/faults", json=faults, timeout=5)
    assert response.status_code == 200, response.text


def simulator_rides(simulator) -> dict:
    return requests.get(f"{simulator.url}/_simulator/rides", timeout=5).json()


def booking(ride_id: str = "ride-1", *, will_call: bool = True) -> ProviderBooking:
    return ProviderBooking(ride_id, PICKUP_AT, PICKUP_ADDRESS, DROPOFF_ADDRESS, will_call=will_call)


def test_a_booking_is_confirmed_as_a_will_call_ride_with_our_ride_id_as_reference(client, simulator):
    ride = client.book(booking("ride-7"))

    assert (ride.reference, ride.status, ride.pickup_at) == ("ride-7", "will_call", PICKUP_AT)
    [booked] = simulator_rides(simulator)["rides"]
    assert booked["id"] == ride.id
    assert (booked["pickup_address"], booked["dropoff_address"]) == (PICKUP_ADDRESS, DROPOFF_ADDRESS)
    assert booked["idempotency_keys"] == {"book-ride-7": 1}


def test_a_ride_that_is_not_will_call_is_scheduled(client):
    assert client.book(booking(will_call=False)).status == "scheduled"


def test_a_booking_the_provider_committed_but_answered_with_503_is_retried_with_the_same_key_and_books_one_ride(
    client, simulator
):
    set_faults(simulator, fail_after_commit=True)

    ride = client.book(booking("ride-1"))

    [booked] = simulator_rides(simulator)["rides"]
    assert booked["id"] == ride.id
    assert booked["idempotency_keys"] == {"book-ride-1": 2}


def test_booking_the_same_ride_again_answers_the_ride_already_booked(client, simulator):
    first = client.book(booking("ride-1"))
    again = client.book(booking("ride-1"))

    assert again == first
    assert len(simulator_rides(simulator)["rides"]) == 1


def test_503s_are_retried_until_the_provider_answers_again(client, simulator):
    set_faults(simulator, status=503, times=3)

    ride = client.book(booking("ride-1"))

    [booked] = simulator_rides(simulator)["rides"]
    assert booked["id"] == ride.id
    assert booked["idempotency_keys"] == {"book-ride-1": 4}


def test_a_provider_that_comes_back_while_the_client_retries_books_the_ride_once(simulator):
    set_faults(simulator, status=503)
    client = RideProviderClient(simulator.url, KEY, attempts=6, backoff=0.2)
    clearer = threading.Timer(0.5, lambda: set_faults(simulator))
    clearer.start()

    ride = client.book(booking("ride-1"))

    clearer.join()
    [booked] = simulator_rides(simulator)["rides"]
    assert booked["id"] == ride.id
    assert booked["idempotency_keys"]["book-ride-1"] >= 2


def test_a_provider_that_stays_down_is_unavailable_after_every_attempt_and_books_nothing(client, simulator):
    set_faults(simulator, status=503)

    with pytest.raises(ProviderUnavailable) as raised:
        client.book(booking("ride-1"))

    report = simulator_rides(simulator)
    assert report["rides"] == []
    assert report["idempotency_keys"] == {"book-ride-1": 4}
    assert "4 attempts" in str(raised.value)


def test_the_time_spent_retrying_is_the_policys_backoff_and_no_more(simulator):
    set_faults(simulator, status=502)
    client = RideProviderClient(simulator.url, KEY, attempts=3, backoff=0.3)
    started = time.monotonic()

    with pytest.raises(ProviderUnavailable):
        client.book(booking("ride-1"))

    # Waits of 0.3 and 0.6 s, each plus up to 0.3 s of jitter: at least the backoff, so the retries are spaced out.
    assert time.monotonic() - started >= 0.9


def test_a_provider_nobody_listens_for_is_unavailable(simulator):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    client = RideProviderClient(f"http://127.0.0.1:{closed_port}", KEY, attempts=2, backoff=0.01)

    with pytest.raises(ProviderUnavailable, match="connection failed"):
        client.book(booking())


def test_an_answer_slower_than_the_read_timeout_is_retried_with_the_same_key_and_books_one_ride(simulator):
    set_faults(simulator, delay_seconds=1.5, times=1)
    client = RideProviderClient(simulator.url, KEY, timeout=(1, 0.3), attempts=3, backoff=0.05)

    ride = client.book(booking("ride-1"))

    [booked] = simulator_rides(simulator)["rides"]
    assert booked["id"] == ride.id
    assert booked["idempotency_keys"] == {"book-ride-1": 2}


def test_answers_that_stay_slower_than_the_read_timeout_make_the_provider_unavailable(simulator):
    set_faults(simulator, delay_seconds=0.5)
    client = RideProviderClient(simulator.url, KEY, timeout=(1, 0.1), attempts=2, backoff=0.01)

    with pytest.raises(ProviderUnavailable, match="timed out"):
        client.book(booking("ride-1"))

    [booked] = simulator_rides(simulator)["rides"]
    assert booked["idempotency_keys"] == {"book-ride-1": 2}


def test_a_refused_booking_is_provider_refused_at_once_without_a_retry(client, simulator):
    set_faults(simulator, refuse=True)

    with pytest.raises(ProviderRefused) as raised:
        client.book(booking("ride-1"))

    assert (raised.value.code, raised.value.status) == ("outside_service_area", 422)
    assert simulator_rides(simulator) == {"rides": [], "idempotency_keys": {"book-ride-1": 1}}


def test_a_refusal_says_nothing_of_the_addresses(client, simulator):
    set_faults(simulator, refuse=True)

    with pytest.raises(ProviderRefused) as raised:
        client.book(booking("ride-1"))

    assert PICKUP_ADDRESS not in str(raised.value) and DROPOFF_ADDRESS not in str(raised.value)


def test_a_key_used_again_for_another_booking_is_refused(client, simulator):
    client.book(booking("ride-1"))

    with pytest.raises(ProviderRefused) as raised:
        client.book(booking("ride-2"), idempotency_key="book-ride-1")

    assert raised.value.code == "idempotency_key_reused"
    assert len(simulator_rides(simulator)["rides"]) == 1


def test_a_wrong_api_key_leaves_the_booking_to_be_tried_again_once_the_key_is_fixed_and_books_nothing(simulator):
    client = RideProviderClient(simulator.url, "not-the-key", attempts=2, backoff=0.01)

    with pytest.raises(ProviderUnavailable, match="credentials were refused"):
        client.book(booking())

    assert simulator_rides(simulator)["rides"] == []


def test_a_will_call_ride_is_moved_then_dispatched(client):
    ride = client.book(booking("ride-1"))
    later = PICKUP_AT + timedelta(minutes=45)

    moved = client.move(ride.id, later, idempotency_key="move-ride-1-1")
    dispatched = client.dispatch(ride.id, idempotency_key="dispatch-ride-1")

    assert (moved.id, moved.status, moved.pickup_at) == (ride.id, "will_call", later)
    assert (dispatched.id, dispatched.status) == (ride.id, "dispatched")


def test_a_dispatch_retried_after_the_provider_committed_answers_the_same_dispatch(client, simulator):
    ride = client.book(booking("ride-1"))
    set_faults(simulator, fail_after_commit=True)

    dispatched = client.dispatch(ride.id, idempotency_key="dispatch-ride-1")

    # The replay shows the ride as it is now: the driver flow may have moved it on already.
    assert dispatched.id == ride.id
    assert dispatched.status in {"dispatched", "driver_assigned", "driver_arrived", "completed"}
    [booked] = simulator_rides(simulator)["rides"]
    assert booked["idempotency_keys"]["dispatch-ride-1"] == 2


def test_a_ride_is_cancelled(client):
    ride = client.book(booking("ride-1"))

    assert client.cancel(ride.id, idempotency_key="cancel-ride-1").status == "cancelled"
    assert client.ride(ride.id).status == "cancelled"


def test_cancelling_again_with_the_same_key_answers_the_cancelled_ride(client):
    ride = client.book(booking("ride-1"))
    client.cancel(ride.id, idempotency_key="cancel-ride-1")

    assert client.cancel(ride.id, idempotency_key="cancel-ride-1").status == "cancelled"


def test_an_unknown_ride_is_not_found(client):
    with pytest.raises(ProviderRideNotFound) as raised:
        client.dispatch("pr_unknown", idempotency_key="dispatch-x")

    assert isinstance(raised.value, ProviderRefused)
    assert (raised.value.code, raised.value.status) == ("ride_not_found", 404)


def test_dispatching_a_cancelled_ride_is_a_conflict(client):
    ride = client.book(booking("ride-1"))
    client.cancel(ride.id, idempotency_key="cancel-ride-1")

    with pytest.raises(ProviderConflict) as raised:
        client.dispatch(ride.id, idempotency_key="dispatch-ride-1")

    assert (raised.value.code, raised.value.status) == ("invalid_status", 409)


def test_moving_a_dispatched_ride_is_a_conflict(client):
    ride = client.book(booking("ride-1"))
    client.dispatch(ride.id, idempotency_key="dispatch-ride-1")

    with pytest.raises(ProviderConflict):
        client.move(ride.id, PICKUP_AT + timedelta(hours=1), idempotency_key="move-ride-1")


def test_no_log_line_of_the_client_carries_an_address(simulator, caplog):
    set_faults(simulator, status=503, times=2)
    client = RideProviderClient(simulator.url, KEY, attempts=4, backoff=0.01)

    with caplog.at_level(logging.DEBUG):
        client.book(booking("ride-1"))

    assert caplog.records, "the retries should have been logged"
    assert not [r for r in caplog.records if PICKUP_ADDRESS in r.getMessage() or DROPOFF_ADDRESS in r.getMessage()]


def verified(receiver: WebhookReceiver, index: int):
    headers, body = receiver.received[index]
    return verify_webhook(body, headers, SECRET, now=time.time())


def test_after_dispatch_the_driver_flow_sends_signed_webhooks_in_order(client, receiver, simulator):
    ride = client.book(booking("ride-1"))
    client.dispatch(ride.id, idempotency_key="dispatch-ride-1")

    eventually(lambda: len(receiver.received) >= 3, what="three webhooks")

    notices = [verified(receiver, index) for index in range(3)]
    assert [notice.type for notice in notices] == ["ride.driver_assigned", "ride.driver_arrived", "ride.completed"]
    assert [notice.status for notice in notices] == ["driver_assigned", "driver_arrived", "completed"]
    assert {(notice.provider_ride_id, notice.reference) for notice in notices} == {(ride.id, "ride-1")}
    assert len({notice.id for notice in notices}) == 3
    assert client.ride(ride.id).status == "completed"


def test_a_webhook_signed_with_another_secret_does_not_verify(client, receiver):
    ride = client.book(booking("ride-1"))
    client.dispatch(ride.id, idempotency_key="dispatch-ride-1")
    eventually(lambda: receiver.received, what="a webhook")
    headers, body = receiver.received[0]

    with pytest.raises(InvalidWebhook, match="bad signature"):
        verify_webhook(body, headers, "another-secret", now=time.time())


def test_a_cancelled_ride_sends_a_cancelled_webhook_and_its_driver_goes_no_further(client, receiver, simulator):
    ride = client.book(booking("ride-1"))
    client.dispatch(ride.id, idempotency_key="dispatch-ride-1")
    client.cancel(ride.id, idempotency_key="cancel-ride-1")

    eventually(lambda: "ride.cancelled" in [b["type"] for b in receiver.bodies()], what="the cancelled webhook")
    time.sleep(0.5)  # longer than the whole driver flow: nothing may follow the cancellation

    assert [b["ride"]["status"] for b in receiver.bodies()] == ["cancelled"]


def test_duplicated_webhooks_carry_the_same_webhook_id(client, receiver, simulator):
    set_faults(simulator, duplicate_webhooks=True)
    ride = client.book(booking("ride-1"))
    client.dispatch(ride.id, idempotency_key="dispatch-ride-1")

    eventually(lambda: len(receiver.received) >= 6, what="six webhooks")

    notices = [verified(receiver, index) for index in range(6)]
    ids = [notice.id for notice in notices]
    assert len(set(ids)) == 3
    assert all(ids.count(webhook_id) == 2 for webhook_id in ids)
    assert [headers["Webhook-Id"] for headers, _ in receiver.received] == ids


def test_out_of_order_webhooks_deliver_a_later_status_before_an_earlier_one(client, receiver, simulator):
    set_faults(simulator, out_of_order_webhooks=True)
    ride = client.book(booking("ride-1"))
    client.dispatch(ride.id, idempotency_key="dispatch-ride-1")

    eventually(lambda: len(receiver.received) >= 3, what="three webhooks")

    types = [verified(receiver, index).type for index in range(3)]
    assert sorted(types) == sorted(["ride.driver_assigned", "ride.driver_arrived", "ride.completed"])
    assert types.index("ride.driver_arrived") < types.index("ride.driver_assigned")


def test_a_webhook_not_answered_2xx_is_sent_again_with_the_same_id_and_a_fresh_signature(client, receiver, simulator):
    receiver.answers = [500, 503]
    ride = client.book(booking("ride-1"))
    client.dispatch(ride.id, idempotency_key="dispatch-ride-1")

    def all_delivered():
        sent = requests.get(f"{simulator.url}/_simulator/webhooks", timeout=5).json()["webhooks"]
        return len(sent) == 3 and all(webhook["delivered"] for webhook in sent) and sent

    sent = eventually(all_delivered, what="every webhook delivered in the end")

    assert len(receiver.received) == 5
    notices = [verified(receiver, index) for index in range(5)]
    assert sorted(notice.type for notice in {notice.id: notice for notice in notices}.values()) == [
        "ride.completed",
        "ride.driver_arrived",
        "ride.driver_assigned",
    ]
    outcomes = sorted([attempt["outcome"] for attempt in webhook["attempts"]] for webhook in sent)
    assert outcomes in (
        [["204"], ["204"], ["500", "503", "204"]],  # the first webhook failed twice
        [["204"], ["500", "204"], ["503", "204"]],  # the second went out between the first's attempts
    )


def test_a_scheduled_ride_is_dispatched_by_the_provider_at_its_pickup_time(client, receiver):
    soon = datetime.now(UTC) + timedelta(seconds=0.3)

    ride = client.book(ProviderBooking("ride-1", soon, PICKUP_ADDRESS, DROPOFF_ADDRESS, will_call=False))

    assert ride.status == "scheduled"
    eventually(lambda: len(receiver.received) >= 3, what="the driver flow of a scheduled ride")
    assert verified(receiver, 2).type == "ride.completed"
