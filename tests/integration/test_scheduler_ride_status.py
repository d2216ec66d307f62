"""The scheduler follows the ride home through RabbitMQ, on SQLite and on PostgreSQL: ride events that transport
publishes reach the scheduler's own queue, its consumer keeps each session's ride status, and the front desk can check
the patient in once the ride is confirmed, without the scheduler ever asking transport."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fakes import ride_reported
from integration.helpers import (
    QueueReader,
    eventually,
    publish_raw,
    register_with_intake,
    running,
    unsettled,
    wait_until_ready,
)
from sqlalchemy import func, select

from services.scheduler.adapters import tables
from services.scheduler.adapters.clinic_config import load_clinic
from services.scheduler.bootstrap import bootstrap
from shared.contract import to_json
from shared.messaging import EventConsumer
from shared.messaging.topology import SCHEDULER_QUEUE
from shared.persistence import create_database_engine
from shared.settings import Settings

pytestmark = pytest.mark.integration

TOKEN = "ride-status-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ZONE = ZoneInfo("America/New_York")
ESCORT = {"mode": "escort", "escort_name": "Bo Lee", "escort_phone": "+14155550124"}
BOOKED_AT = datetime(2026, 12, 1, 7, 0, tzinfo=ZONE)
STARTS_AT = datetime(2026, 12, 2, 9, 0, tzinfo=ZONE)
ARRIVAL = STARTS_AT - timedelta(minutes=15)


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(BOOKED_AT)


@pytest.fixture
def scheduler(database_url, broker_url, clock, monkeypatch):
    monkeypatch.delenv("CLINIC_CONFIG", raising=False)
    settings = Settings(
        service="scheduler",
        broker_url=broker_url,
        database_url=database_url,
        port=0,
        service_token=TOKEN,
        scheduler_url="http://127.0.0.1:1",
    )
    return bootstrap(settings, clinic=load_clinic(), clock=clock)


@pytest.fixture
def consuming(scheduler):
    """The scheduler's consumer running on the real broker, its topology declared."""
    [consumer] = [worker for worker in scheduler.workers if isinstance(worker, EventConsumer)]
    with running(consumer, name="scheduler consumer"):
        wait_until_ready(consumer)
        yield consumer


@pytest.fixture
def processed(database_url):
    engine = create_database_engine(database_url, schema="scheduler")
    table = tables.messaging.processed_events

    def count() -> int:
        with engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(table)).scalar_one()

    yield count
    engine.dispose()


def book_infusion(client) -> str:
    patient_id = register_with_intake(client, AUTH)
    body = {
        "patient_id": patient_id,
        "treatment_type": "iv_infusion",
        "starts_at": STARTS_AT.isoformat(),
        "ride_home": ESCORT,
    }
    response = client.post("/api/sessions", json=body, headers=AUTH)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["id"]


def publish(broker_url: str, event) -> None:
    publish_raw(broker_url, to_json(event), routing_key=event.type, message_id=event.event_id)


def ride_status(client, session_id: str) -> str | None:
    return client.get(f"/api/sessions/{session_id}", headers=AUTH).get_json()["ride_status"]


def test_a_ride_confirmed_through_the_broker_lets_the_front_desk_check_the_patient_in(
    scheduler, consuming, broker_url, clock
):
    client = scheduler.app.test_client()
    session_id = book_infusion(client)
    clock.now = ARRIVAL
    refused = client.post(f"/api/sessions/{session_id}/check-in", headers=AUTH)

    publish(broker_url, ride_reported(session_id, "ride.confirmed"))
    eventually(lambda: ride_status(client, session_id) == "confirmed", what="the scheduler keeping the confirmed ride")
    checked_in = client.post(f"/api/sessions/{session_id}/check-in", headers=AUTH)

    assert (refused.status_code, refused.get_json()["reason"]) == (409, "ride_not_confirmed")
    assert (checked_in.status_code, checked_in.get_json()["status"]) == (200, "checked_in")
    assert client.get("/healthz").get_json()["consuming"] is True


def test_ride_events_delivered_out_of_order_and_twice_leave_the_newest_status(
    scheduler, consuming, broker_url, vhost, processed
):
    client = scheduler.app.test_client()
    session_id = book_infusion(client)
    requested = ride_reported(session_id, "ride.requested", occurred_at=datetime(2026, 12, 1, 7, 1, tzinfo=ZONE))
    at_risk = ride_reported(
        session_id, "ride.at_risk", occurred_at=datetime(2026, 12, 1, 9, 0, tzinfo=ZONE), at_risk="24h"
    )
    confirmed = ride_reported(session_id, "ride.confirmed", occurred_at=datetime(2026, 12, 1, 18, 0, tzinfo=ZONE))

    for event in (confirmed, at_risk, requested, confirmed):
        publish(broker_url, event)
    eventually(lambda: processed() == 3, what="the scheduler handling the three ride events")
    eventually(lambda: unsettled(vhost.name, SCHEDULER_QUEUE.name) == 0, what="every delivery, the repeat too, acked")

    shown = client.get(f"/api/sessions/{session_id}", headers=AUTH).get_json()
    assert (shown["ride_status"], shown["ride_status_at"]) == ("confirmed", "2026-12-01T18:00:00-05:00")
    assert processed() == 3


def test_a_ride_event_for_a_session_the_scheduler_never_booked_is_dead_lettered_with_its_reason(
    scheduler, consuming, broker_url, processed
):
    dead_letters = QueueReader(broker_url, SCHEDULER_QUEUE.dead_letter_queue)

    publish(broker_url, ride_reported("no-such-session", "ride.confirmed"))

    [message] = dead_letters.wait_for_count(1, what="the unknown session's ride event reaching the dead-letter queue")
    assert message.type == "ride.confirmed"
    assert "no-such-session" in message.reason and "does not know" in message.reason
    assert processed() == 0
