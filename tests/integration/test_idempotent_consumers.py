"""The transport service's real consumer path, on SQLite and on PostgreSQL: each event has its effect once."""

from datetime import UTC, datetime

import pytest
from integration.helpers import (
    QueueReader,
    eventually,
    message_count,
    publish_burst,
    publish_raw,
    running,
    session_booked_json,
    unsettled,
    wait_until_ready,
)

from services.transport.bootstrap import bootstrap
from shared.contract import SESSION_CANCELLED, new_event, to_json
from shared.messaging import RetryPolicy
from shared.settings import Settings

pytestmark = pytest.mark.integration

TOKEN = "t"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


FAST_RETRY = RetryPolicy(attempts=3, initial_delay=0.05, max_delay=0.1)


def transport_settings(broker_url: str, database_url: str) -> Settings:
    return Settings(
        service="transport",
        broker_url=broker_url,
        database_url=database_url,
        port=0,
        service_token=TOKEN,
        scheduler_url="http://127.0.0.1:1",
    )


@pytest.fixture
def transport(broker_url, database_url):
    runtime = bootstrap(transport_settings(broker_url, database_url), retry=FAST_RETRY)
    relay, consumer, *_workers = runtime.workers  # then the provider and at-risk workers
    runtime.start()
    try:
        wait_until_ready(consumer, what="the transport consumer getting ready")
        yield runtime
    finally:
        runtime.stop()


def rides_of(runtime, session_id: str) -> list[dict]:
    response = runtime.app.test_client().get("/api/rides", query_string={"session_id": session_id}, headers=AUTH)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["rides"]


def publish_booked(broker_url: str, **overrides):
    event, body = session_booked_json(**overrides)
    publish_raw(broker_url, body, message_id=event.event_id)
    return event, body


def test_the_same_session_booked_event_delivered_twice_yields_exactly_one_ride_and_one_ride_requested(
    broker_url, transport
):
    audit = QueueReader(broker_url, "audit.events")
    event, body = session_booked_json()
    publish_raw(broker_url, body, message_id=event.event_id)
    publish_raw(broker_url, body, message_id=event.event_id)  # a redelivery: same event, same event_id
    # Handled in order on one channel: once the sentinel's ride exists, both copies of the event have been handled.
    sentinel, _ = publish_booked(broker_url)

    eventually(lambda: rides_of(transport, sentinel.data["session_id"]), what="the sentinel session getting its ride")
    audit.wait_for(
        lambda messages: any(
            m.type == "ride.requested" and m.data["session_id"] == sentinel.data["session_id"] for m in messages
        ),
        what="the sentinel's ride.requested reaching audit.events",
    )

    session_id = event.data["session_id"]
    rides = rides_of(transport, session_id)
    assert len(rides) == 1, rides
    assert rides[0]["status"] == "requested"
    assert rides[0]["mode"] == "escort"
    assert datetime.fromisoformat(rides[0]["pickup_at"]) == event.data["recovery_ends_at"]
    requested = [m for m in audit.of_type("ride.requested") if m.data["session_id"] == session_id]
    assert len(requested) == 1, f"expected one ride.requested for {session_id}; audit holds {audit.messages!r}"
    assert requested[0].data["ride_id"] == rides[0]["id"]
    assert requested[0].document["correlation_id"] == session_id
    assert requested[0].document["producer"] == "transport"
    assert message_count(broker_url, "transport.events.dlq") == 0
    relay = transport.workers[0]
    eventually(lambda: relay.pending() == 0, what="the transport outbox being fully published")


def test_a_session_without_a_ride_home_gets_no_ride_and_no_ride_requested(broker_url, transport):
    audit = QueueReader(broker_url, "audit.events")
    walk_in, _ = publish_booked(broker_url, treatment_type="intake_assessment", ride_home_mode="none")
    sentinel, _ = publish_booked(broker_url)

    audit.wait_for(
        lambda messages: any(m.type == "ride.requested" for m in messages),
        what="the sentinel's ride.requested reaching audit.events",
    )

    assert rides_of(transport, walk_in.data["session_id"]) == []
    assert [m.data["session_id"] for m in audit.of_type("ride.requested")] == [sentinel.data["session_id"]]


def test_the_same_session_cancelled_event_delivered_twice_cancels_the_ride_once(broker_url, transport):
    audit = QueueReader(broker_url, "audit.events")
    booked, _ = publish_booked(broker_url)
    session_id = booked.data["session_id"]
    eventually(lambda: rides_of(transport, session_id), what="the ride being requested")

    cancelled = new_event(
        SESSION_CANCELLED,
        {
            "session_id": session_id,
            "patient_id": booked.data["patient_id"],
            "reason": "patient_unwell",
            "cancelled_at": datetime.now(UTC),
        },
        correlation_id=session_id,
    ).stamped_by("scheduler")
    body = to_json(cancelled)
    publish_raw(broker_url, body, routing_key="session.cancelled", message_id=cancelled.event_id)
    publish_raw(broker_url, body, routing_key="session.cancelled", message_id=cancelled.event_id)
    sentinel, _ = publish_booked(broker_url)

    audit.wait_for(
        lambda messages: any(
            m.type == "ride.requested" and m.data["session_id"] == sentinel.data["session_id"] for m in messages
        ),
        what="the sentinel's ride.requested reaching audit.events",
    )
    rides = rides_of(transport, session_id)
    assert [ride["status"] for ride in rides] == ["cancelled"]
    ride_cancelled = [m for m in audit.of_type("ride.cancelled") if m.data["session_id"] == session_id]
    assert len(ride_cancelled) == 1, audit.messages
    assert ride_cancelled[0].data["ride_id"] == rides[0]["id"]


def test_two_replicas_receiving_copies_of_the_same_events_at_once_still_request_one_ride_per_session(
    broker_url, database_url, vhost
):
    # Two replicas of the transport service on one database, each consuming transport.events; one relay runs.
    first = bootstrap(transport_settings(broker_url, database_url), retry=FAST_RETRY)
    second = bootstrap(transport_settings(broker_url, database_url), retry=FAST_RETRY)
    relay, first_consumer, *_workers = first.workers
    second_consumer = second.workers[1]
    audit = QueueReader(broker_url, "audit.events")
    events = []

    with running(relay, name="relay"):
        with running(first_consumer, name="first consumer"), running(second_consumer, name="second consumer"):
            wait_until_ready(first_consumer)
            wait_until_ready(second_consumer)
            burst = []
            for _ in range(10):
                event, body = session_booked_json()
                events.append(event)
                burst += [(event.event_id, body), (event.event_id, body)]
            # The broker hands consecutive messages to alternate consumers: the two copies are handled at once.
            publish_burst(broker_url, burst)
            for event in events:
                eventually(
                    lambda session_id=event.data["session_id"]: rides_of(first, session_id),
                    what="every session getting a ride",
                )
            eventually(
                lambda: unsettled(vhost.name, "transport.events") == 0,
                what="every copy being handled and acked",
            )
        eventually(lambda: relay.pending() == 0, what="the outbox being fully published")
        audit.wait_for(
            lambda messages: len({m.data["session_id"] for m in messages if m.type == "ride.requested"}) == len(events),
            what="a ride.requested for every session reaching audit.events",
        )

    for event in events:
        session_id = event.data["session_id"]
        assert len(rides_of(first, session_id)) == 1, f"session {session_id} got more than one ride"
        requested = [m for m in audit.of_type("ride.requested") if m.data["session_id"] == session_id]
        assert len(requested) == 1, f"session {session_id}: {requested!r}"
    assert message_count(broker_url, "transport.events") == 0
    assert message_count(broker_url, "transport.events.dlq") == 0
