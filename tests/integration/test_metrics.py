"""/metrics after the transport service handled events from the real broker: counters by type and outcome, latency
histograms, the outbox backlog and the alert conditions, read with prometheus_client's own parser."""

import uuid

import pytest
from integration.helpers import eventually, publish_raw, running, session_booked_json, wait_until_ready
from prometheus_client.parser import text_string_to_metric_families

from services.transport.bootstrap import bootstrap as bootstrap_transport
from shared.messaging import RetryPolicy
from shared.settings import Settings

pytestmark = pytest.mark.integration

TOKEN = "metrics-test-token"
FAST_RETRY = RetryPolicy(attempts=2, initial_delay=0.01, max_delay=0.02)


def samples(client) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics by name and sorted labels."""
    reply = client.get("/metrics")
    assert reply.status_code == 200
    assert reply.content_type.startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(reply.get_data(as_text=True)):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_count_what_the_transport_service_consumed_and_published_by_type_with_latencies_and_its_backlog(
    broker_url, tmp_path
):
    settings = Settings(
        service="transport",
        broker_url=broker_url,
        database_url=f"sqlite:///{tmp_path / 'transport.sqlite3'}",
        port=0,
        service_token=TOKEN,
        scheduler_url="http://127.0.0.1:1",
    )
    runtime = bootstrap_transport(settings, retry=FAST_RETRY)
    relay, consumer = runtime.workers[0], runtime.workers[1]
    client = runtime.app.test_client()
    event, body = session_booked_json()
    with running(relay, name="relay"), running(consumer, name="consumer"):
        wait_until_ready(consumer)
        publish_raw(broker_url, body, message_id=event.event_id)
        publish_raw(broker_url, b"not json at all", message_id=str(uuid.uuid4()))
        eventually(
            lambda: (
                samples(client).get(("clinic_events_published_total", (("event_type", "ride.requested"),)), 0) >= 1
                and samples(client).get(
                    ("clinic_events_consumed_total", (("event_type", "session.booked"), ("outcome", "dead_lettered"))),
                    0,
                )
                >= 1
            ),
            what="the booking handled, its ride.requested published and the poison message dead-lettered",
        )
        rides = client.get(
            "/api/rides",
            query_string={"session_id": event.data["session_id"]},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert rides.status_code == 200
        ride_id = rides.get_json()["rides"][0]["id"]
        client.get(f"/api/rides/{ride_id}/escort-link", headers={"Authorization": f"Bearer {TOKEN}"})
        found = samples(client)

    handled = (("event_type", "session.booked"), ("outcome", "handled"))
    assert found[("clinic_events_consumed_total", handled)] == 1
    assert found[("clinic_events_published_total", (("event_type", "ride.requested"),))] >= 1
    assert found[("clinic_event_handler_seconds_count", (("event_type", "session.booked"),))] == 2
    assert found[("clinic_event_handler_seconds_bucket", (("event_type", "session.booked"), ("le", "+Inf")))] == 2
    # The routes are URL rules: an id never becomes a label value.
    routes = {dict(labels)["route"] for name, labels in found if name == "clinic_http_request_seconds_count"}
    assert "/api/rides" in routes
    assert "/api/rides/<id:ride_id>/escort-link" in routes
    assert not any(ride_id in route for route in routes)
    ok = (("method", "GET"), ("route", "/api/rides"), ("status", "200"))
    assert found[("clinic_http_request_seconds_count", ok)] == 1
    assert found[("clinic_outbox_pending", ())] == 0
    assert found[("clinic_outbox_oldest_unsent_age_seconds", ())] == 0
    assert found[("clinic_consumer_connected", ())] == 1
    assert found[("clinic_alert", (("condition", "consumer_not_consuming"),))] == 0
    assert found[("clinic_alert", (("condition", "outbox_row_older_than_threshold"),))] == 0
    assert found[("clinic_rides_at_risk", ())] == 0
    assert event.data["session_id"] not in str(found), "a session id must not be a label value"
