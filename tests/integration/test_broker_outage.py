"""A broker outage and its end, through a TCP proxy the test takes down: consumers and relays ride it out."""

import pytest
from integration.helpers import (
    BrokerProxy,
    QueueReader,
    clinic_time,
    eventually,
    message_count,
    publish_raw,
    running,
    session_booked_json,
    wait_until_ready,
)

from services.scheduler.bootstrap import bootstrap as bootstrap_scheduler
from services.transport.bootstrap import bootstrap as bootstrap_transport
from shared.messaging import CLINIC_TOPOLOGY, EventConsumer, RetryPolicy
from shared.messaging.topology import TRANSPORT_QUEUE
from shared.settings import Settings

pytestmark = pytest.mark.integration

TOKEN = "outage-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FAST_RETRY = RetryPolicy(attempts=3, initial_delay=0.05, max_delay=0.1)


@pytest.fixture
def proxy(vhost):
    proxy = BrokerProxy()
    yield proxy
    proxy.close()


def settings(service: str, broker_url: str, database_url: str) -> Settings:
    return Settings(
        service=service,
        broker_url=broker_url,
        database_url=database_url,
        port=0,
        service_token=TOKEN,
        scheduler_url="http://127.0.0.1:1",
    )


def test_after_a_broker_outage_the_consumer_reconnects_and_handles_the_event_published_meanwhile(
    broker_url, vhost, proxy
):
    handled = []
    consumer = EventConsumer(
        proxy.url(vhost.name), CLINIC_TOPOLOGY, TRANSPORT_QUEUE, {"session.booked": handled.append}, retry=FAST_RETRY
    )
    with running(consumer, name="consumer"):
        wait_until_ready(consumer)
        proxy.down()
        eventually(lambda: proxy.refused_count() >= 1, what="the consumer trying to reconnect during the outage")
        event, body = session_booked_json()
        publish_raw(broker_url, body, message_id=event.event_id)  # straight to the broker, not through the proxy
        assert handled == []

        proxy.up()
        eventually(
            lambda: [e.event_id for e in handled] == [event.event_id], what="the event being handled after the outage"
        )

    assert message_count(broker_url, "transport.events") == 0


def test_during_a_broker_outage_the_transport_service_does_not_report_itself_consuming(
    broker_url, vhost, proxy, tmp_path
):
    runtime = bootstrap_transport(
        settings("transport", proxy.url(vhost.name), f"sqlite:///{tmp_path / 'transport.sqlite3'}"), retry=FAST_RETRY
    )
    consumer = runtime.workers[1]
    client = runtime.app.test_client()
    with running(consumer, name="transport consumer"):
        wait_until_ready(consumer)
        assert client.get("/healthz").get_json()["consuming"] is True

        proxy.down()
        eventually(lambda: proxy.refused_count() >= 2, what="the consumer failing to reconnect twice during the outage")
        health = client.get("/healthz").get_json()
        ready_during_outage = consumer.ready.is_set()

        proxy.up()
        eventually(consumer.ready.is_set, what="the consumer being ready again after the outage")

    assert health["consuming"] is False, (
        f"/healthz says {health} although the consumer lost its connection and cannot reconnect"
    )
    assert ready_during_outage is False, "consumer.ready stayed set while the consumer was disconnected"


def test_after_a_broker_outage_the_running_relay_publishes_the_booking_made_meanwhile(
    broker_url, vhost, proxy, postgres_url
):
    runtime = bootstrap_scheduler(settings("scheduler", proxy.url(vhost.name), postgres_url))
    relay = runtime.workers[0]
    client = runtime.app.test_client()
    audit = QueueReader(broker_url, "audit.events")

    def book(hour: int) -> str:
        patient = client.post("/api/patients", json={"name": "Ada Okafor", "phone": "+14155550199"}, headers=AUTH)
        assert patient.status_code == 201, patient.get_data(as_text=True)
        booking = client.post(
            "/api/sessions",
            json={
                "patient_id": patient.get_json()["id"],
                "treatment_type": "intake_assessment",
                "starts_at": clinic_time(20, hour),
            },
            headers=AUTH,
        )
        assert booking.status_code == 201, booking.get_data(as_text=True)
        return booking.get_json()["id"]

    with running(relay, name="scheduler relay"):
        before = book(9)
        audit.wait_for(lambda messages: len(messages) == 1, what="the first booking being published")

        proxy.down()
        during = book(11)  # the booking does not depend on the broker
        eventually(lambda: proxy.refused_count() >= 1, what="the relay trying to publish during the outage")
        assert relay.pending() == 1

        proxy.up()
        audit.wait_for(lambda messages: len(messages) == 2, what="the booking made during the outage being published")
        eventually(lambda: relay.pending() == 0, what="the outbox having nothing pending")

    assert [m.data["session_id"] for m in audit.messages] == [before, during]
