"""Provider mode against the ride-provider simulator over real HTTP, on SQLite and PostgreSQL: the worker books each
ride once; a provider outage in a busy morning loses nothing and books every ride exactly once after it; an answer
lost after the provider committed (or a crash before our commit) finds the same provider ride again; the driver
flow's webhooks, repeated and out of order, close the ride once; a forged webhook changes nothing."""

import json
import socket
import threading
import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from integration.helpers import eventually, session_booked
from sqlalchemy import func, select

from services.transport import SERVICE_NAME, handlers
from services.transport.adapters import tables
from services.transport.adapters.ride_provider import RideProviderClient
from services.transport.adapters.scheduler_directory import ClinicFacts
from services.transport.adapters.unit_of_work import TransportUnitOfWork
from services.transport.adapters.webhook_signatures import sign
from services.transport.bootstrap import bootstrap
from services.transport.domain.rides import RideStatus
from services.transport.provider_worker import carry_out, claim, due_requests
from services.transport.settings import TransportSettings
from shared.contract import SESSION_DISCHARGED, from_json, new_event, to_json
from shared.persistence import create_database_engine, utcnow
from shared.settings import Settings
from simulators.ride_provider.server import start_simulator

pytestmark = pytest.mark.integration

KEY = "provider-test-key"
SECRET = "provider-test-webhook-secret"
CLINIC_ADDRESS = "1 Main Street, Springfield"
DROPOFF = "22 Elm Road, Springfield"


class SchedulerStandIn:
    """The scheduler's answers transport needs here: the clinic's address and each session's drop-off address."""

    def clinic(self) -> ClinicFacts:
        return ClinicFacts("Riverside Ketamine Clinic", ZoneInfo("America/New_York"), CLINIC_ADDRESS)

    def patient_first_name(self, patient_id: str) -> str | None:
        return None

    def dropoff_address(self, session_id: str) -> str:
        return DROPOFF


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Transport:
    def __init__(self, database_url: str, simulator_url: str, port: int):
        self.client = RideProviderClient(simulator_url, KEY, attempts=2, backoff=0.05, timeout=(1, 3))
        self.runtime = bootstrap(
            Settings(
                service=SERVICE_NAME,
                broker_url="memory://",
                database_url=database_url,
                port=port,
                service_token="t",
                scheduler_url="http://127.0.0.1:1",
            ),
            transport=TransportSettings(provider_url=simulator_url, provider_key=KEY, provider_webhook_secret=SECRET),
            provider=self.client,
            directory=SchedulerStandIn(),
            provider_poll_interval=0.1,
        )
        self.engine = create_database_engine(database_url, schema=SERVICE_NAME)

    def uow(self) -> TransportUnitOfWork:
        return TransportUnitOfWork(self.engine, tables.messaging, SERVICE_NAME)

    def ride(self, ride_id: str):
        return handlers.get_ride(ride_id, uow=self.uow())

    def book(self) -> str:
        event = from_json(to_json(session_booked(ride_home_mode="provider")))
        handlers.request_ride(event, uow=self.uow(), now=utcnow())
        [ride] = handlers.list_rides(session_id=event.data["session_id"], uow=self.uow())
        return ride.id

    def outbox_types(self) -> list[str]:
        outbox = tables.messaging.outbox
        with self.engine.connect() as connection:
            return list(connection.execute(select(outbox.c.routing_key).order_by(outbox.c.position)).scalars())


@pytest.fixture
def simulator_and_port():
    port = free_port()
    simulator = start_simulator(
        port=0,
        api_key=KEY,
        webhook_secret=SECRET,
        webhook_url=f"http://127.0.0.1:{port}/webhooks/ride-provider",
        driver_delays=(0.2, 0.2, 0.2),
        webhook_retry_delays=(0.2, 0.5, 1.0),
    )
    yield simulator, port
    simulator.stop()


@pytest.fixture
def transport(database_url, simulator_and_port):
    simulator, port = simulator_and_port
    transport = Transport(database_url, simulator.url, port)
    transport.runtime.start()
    yield transport
    transport.runtime.stop()
    transport.engine.dispose()


@pytest.fixture
def simulator(simulator_and_port):
    return simulator_and_port[0]


def faults(simulator, **settings) -> None:
    assert requests.post(f"{simulator.url}/_simulator/faults", json=settings, timeout=5).status_code == 200


def provider_rides(simulator) -> list[dict]:
    return requests.get(f"{simulator.url}/_simulator/rides", timeout=5).json()["rides"]


def confirmed(transport, ride_id: str) -> bool:
    return transport.ride(ride_id).status is RideStatus.CONFIRMED


def test_a_provider_ride_is_booked_once_as_a_will_call_ride_and_confirmed(transport, simulator):
    ride_id = transport.book()

    eventually(lambda: confirmed(transport, ride_id), what="the provider confirming the ride")

    [booked] = provider_rides(simulator)
    ride = transport.ride(ride_id)
    assert booked["reference"] == ride_id and booked["id"] == ride.provider_ride_id
    assert (booked["will_call"], booked["pickup_address"], booked["dropoff_address"]) == (True, CLINIC_ADDRESS, DROPOFF)
    assert booked["idempotency_keys"] == {f"{ride_id}-book-1": 1}
    assert transport.outbox_types() == ["ride.requested", "ride.confirmed"]


def test_after_a_provider_outage_in_a_busy_morning_every_ride_is_booked_exactly_once(transport, simulator):
    faults(simulator, status=503)
    ride_ids = [transport.book() for _ in range(12)]

    def every_request_tried_twice():
        with transport.engine.connect() as connection:
            requests_ = tables.provider_requests
            fewest = connection.execute(
                select(func.min(requests_.c.attempts)).where(requests_.c.done_at.is_(None))
            ).scalar_one()
            return (fewest or 0) >= 2

    eventually(every_request_tried_twice, what="every booking being tried during the outage")
    assert not any(confirmed(transport, ride_id) for ride_id in ride_ids)
    assert provider_rides(simulator) == []

    faults(simulator)  # the provider is back
    for ride_id in ride_ids:
        eventually(
            lambda ride_id=ride_id: confirmed(transport, ride_id),
            what="every ride confirmed after the outage",
            deadline=120,
        )

    booked = provider_rides(simulator)
    assert sorted(ride["reference"] for ride in booked) == sorted(ride_ids)
    assert {transport.ride(ride_id).provider_ride_id for ride_id in ride_ids} == {ride["id"] for ride in booked}
    assert transport.outbox_types().count("ride.confirmed") == 12


def test_an_answer_lost_after_the_provider_booked_finds_the_same_ride_again(transport, simulator):
    faults(simulator, fail_after_commit=True, times=1)

    ride_id = transport.book()
    eventually(lambda: confirmed(transport, ride_id), what="the ride confirmed after the lost answer")

    [booked] = provider_rides(simulator)
    assert booked["idempotency_keys"] == {f"{ride_id}-book-1": 2}
    assert transport.ride(ride_id).provider_ride_id == booked["id"]


def test_transport_killed_between_the_provider_s_answer_and_its_commit_books_no_second_driver(
    database_url, simulator_and_port
):
    simulator, port = simulator_and_port
    before = Transport(database_url, simulator.url, port)  # not started: only its database and client are used
    ride_id = before.book()
    [request] = due_requests(uow=before.uow(), now=utcnow())
    ride = claim(request, uow=before.uow(), now=utcnow() - timedelta(minutes=10))  # its claim ran out long ago
    carry_out(request, ride, provider=before.client, places=SchedulerStandIn())  # the provider booked; we "died"
    before.engine.dispose()

    after = Transport(database_url, simulator.url, port)
    after.runtime.start()
    try:
        eventually(lambda: confirmed(after, ride_id), what="the restarted transport confirming the ride")
    finally:
        after.runtime.stop()

    [booked] = provider_rides(simulator)
    assert booked["idempotency_keys"] == {f"{ride_id}-book-1": 2}
    assert after.ride(ride_id).provider_ride_id == booked["id"]
    after.engine.dispose()


def test_the_driver_flow_s_webhooks_repeated_and_out_of_order_complete_the_ride_once(transport, simulator):
    faults(simulator, duplicate_webhooks=True, out_of_order_webhooks=True)
    ride_id = transport.book()
    eventually(lambda: confirmed(transport, ride_id), what="the provider confirming the ride")
    ride = transport.ride(ride_id)
    released = ride.pickup_at - timedelta(minutes=5)
    discharge = new_event(
        SESSION_DISCHARGED,
        {
            "session_id": ride.session_id,
            "patient_id": ride.patient_id,
            "discharged_at": released,
            "planned_recovery_ends_at": ride.pickup_at,
            "ride_home_mode": "provider",
        },
        correlation_id=ride.session_id,
    )

    handlers.dispatch_rides(from_json(to_json(discharge.stamped_by("scheduler"))), uow=transport.uow(), now=utcnow())
    eventually(
        lambda: transport.ride(ride_id).status is RideStatus.COMPLETED, what="the ride completed by the webhooks"
    )

    def every_copy_delivered():
        sent = requests.get(f"{simulator.url}/_simulator/webhooks", timeout=5).json()["webhooks"]
        return len(sent) == 6 and all(webhook.get("delivered") for webhook in sent) and sent

    sent = eventually(every_copy_delivered, what="both copies of the three driver-flow webhooks delivered")
    ride = transport.ride(ride_id)
    assert (ride.status, ride.provider_status, ride.pickup_at) == (RideStatus.COMPLETED, "completed", released)
    assert transport.outbox_types() == ["ride.requested", "ride.confirmed", "ride.dispatched", "ride.completed"]
    with transport.engine.connect() as connection:
        recorded = set(connection.execute(select(tables.webhook_notices.c.id)).scalars())
    assert recorded == {webhook["id"] for webhook in sent}
    assert [webhook["type"] for webhook in sent if webhook["copy"] == 1][0] != "ride.driver_assigned"  # out of order


def test_a_webhook_with_a_bad_signature_or_replayed_is_refused_and_changes_nothing(transport, simulator):
    ride_id = transport.book()
    eventually(lambda: confirmed(transport, ride_id), what="the provider confirming the ride")
    ride = transport.ride(ride_id)
    body = json.dumps(
        {
            "id": "wh-forged",
            "type": "ride.cancelled",
            "occurred_at": utcnow().isoformat(),
            "ride": {"id": ride.provider_ride_id, "reference": ride_id, "status": "cancelled"},
        }
    ).encode()
    url = f"http://127.0.0.1:{transport.runtime.port}/webhooks/ride-provider"
    now = int(time.time())

    forged = requests.post(url, data=body, headers=sign(body, "not-the-secret", webhook_id="wh-forged", timestamp=now))
    replayed = requests.post(url, data=body, headers=sign(body, SECRET, webhook_id="wh-forged", timestamp=now - 3600))
    unsigned = requests.post(url, data=body, headers={"Content-Type": "application/json"})

    assert (forged.status_code, replayed.status_code, unsigned.status_code) == (401, 401, 401)
    assert transport.ride(ride_id).status is RideStatus.CONFIRMED
    assert transport.outbox_types() == ["ride.requested", "ride.confirmed"]


def test_copies_of_one_webhook_arriving_at_the_same_moment_apply_once_and_every_copy_is_answered_200(
    transport, simulator
):
    ride_id = transport.book()
    eventually(lambda: confirmed(transport, ride_id), what="the provider confirming the ride")
    ride = transport.ride(ride_id)
    body = json.dumps(
        {
            "id": "wh-twice",
            "type": "ride.driver_assigned",
            "occurred_at": utcnow().isoformat(),
            "ride": {"id": ride.provider_ride_id, "reference": ride_id, "status": "driver_assigned"},
        }
    ).encode()
    headers = sign(body, SECRET, webhook_id="wh-twice", timestamp=int(time.time()))
    url = f"http://127.0.0.1:{transport.runtime.port}/webhooks/ride-provider"
    copies = 6
    barrier = threading.Barrier(copies)
    answers: list[tuple[int, str]] = []

    def deliver():
        barrier.wait()
        answer = requests.post(url, data=body, headers={**headers, "Content-Type": "application/json"}, timeout=10)
        answers.append((answer.status_code, answer.json().get("outcome")))

    threads = [threading.Thread(target=deliver) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(answers) == sorted([(200, "applied")] + [(200, "duplicate")] * (copies - 1))
    assert transport.ride(ride_id).provider_status == "driver_assigned"
