"""A service's metrics: its own registry, counters by type and outcome, latency histograms, HTTP latency by route
(the URL rule, never the path), and the gauges read at scrape time, which leave out a source that fails."""

import threading
import uuid

import pytest
from flask import Blueprint
from integration.helpers import eventually, session_booked
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from shared.contract import SESSION_BOOKED, to_json
from shared.messaging import EventConsumer, EventPublisher, OutgoingMessage, PoisonMessage, RetryPolicy
from shared.messaging.topology import QueueSpec, Topology
from shared.metrics import ServiceMetrics
from shared.web import create_service_app

TOKEN = "metrics-token"


def samples(metrics: ServiceMetrics) -> dict[tuple[str, tuple], float]:
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def test_published_consumed_and_failed_events_are_counted_by_type_and_outcome_with_a_latency_histogram():
    metrics = ServiceMetrics("transport")
    metrics.published("ride.requested")
    metrics.published("ride.requested")
    metrics.consumed("session.booked", "handled", 0.02)
    metrics.consumed("session.booked", "retried", 0.3)
    metrics.consumed("session.cancelled", "dead_lettered", 0.001)
    metrics.failed("session.booked")

    found = samples(metrics)

    assert found[("clinic_events_published_total", (("event_type", "ride.requested"),))] == 2
    assert found[("clinic_events_consumed_total", (("event_type", "session.booked"), ("outcome", "handled")))] == 1
    assert found[("clinic_events_consumed_total", (("event_type", "session.booked"), ("outcome", "retried")))] == 1
    dead = (("event_type", "session.cancelled"), ("outcome", "dead_lettered"))
    assert found[("clinic_events_consumed_total", dead)] == 1
    assert found[("clinic_events_failed_total", (("event_type", "session.booked"),))] == 1
    assert found[("clinic_event_handler_seconds_count", (("event_type", "session.booked"),))] == 2
    assert found[("clinic_event_handler_seconds_sum", (("event_type", "session.booked"),))] == pytest.approx(0.32)
    assert found[("clinic_event_handler_seconds_bucket", (("event_type", "session.booked"), ("le", "0.025")))] == 1


def test_an_unknown_outcome_is_refused():
    with pytest.raises(ValueError, match="outcome"):
        ServiceMetrics("transport").consumed("session.booked", "lost", 0.1)


def test_each_service_counts_in_a_registry_of_its_own_not_the_global_one():
    scheduler, transport = ServiceMetrics("scheduler"), ServiceMetrics("transport")
    scheduler.published("session.booked")

    assert ("clinic_events_published_total", (("event_type", "session.booked"),)) in samples(scheduler)
    assert ("clinic_events_published_total", (("event_type", "session.booked"),)) not in samples(transport)
    assert REGISTRY.get_sample_value("clinic_events_published_total", {"event_type": "session.booked"}) is None


def test_the_outbox_the_consumer_the_figures_and_the_alert_conditions_are_read_at_scrape_time():
    metrics = ServiceMetrics("transport")
    state = {"consuming": True, "pending": 0, "age": None, "at_risk": 0}
    metrics.watch(
        consumer=lambda: {"consuming": state["consuming"], "stuck": False},
        outbox=lambda: {"pending": state["pending"], "oldest_unsent_age_seconds": state["age"]},
        outbox_stuck_after=120,
        figures=lambda: {"rides_at_risk": state["at_risk"]},
    )
    calm = samples(metrics)
    state.update(consuming=False, pending=3, age=300.0, at_risk=2)
    alarmed = samples(metrics)

    assert calm[("clinic_consumer_connected", ())] == 1
    assert calm[("clinic_outbox_pending", ())] == 0
    assert calm[("clinic_outbox_oldest_unsent_age_seconds", ())] == 0
    assert calm[("clinic_rides_at_risk", ())] == 0
    assert {labels: value for (name, labels), value in calm.items() if name == "clinic_alert"} == {
        (("condition", "consumer_not_consuming"),): 0,
        (("condition", "outbox_row_older_than_threshold"),): 0,
        (("condition", "ride_at_risk"),): 0,
    }
    assert alarmed[("clinic_consumer_connected", ())] == 0
    assert alarmed[("clinic_outbox_pending", ())] == 3
    assert alarmed[("clinic_outbox_oldest_unsent_age_seconds", ())] == 300
    assert alarmed[("clinic_rides_at_risk", ())] == 2
    assert {labels: value for (name, labels), value in alarmed.items() if name == "clinic_alert"} == {
        (("condition", "consumer_not_consuming"),): 1,
        (("condition", "outbox_row_older_than_threshold"),): 1,
        (("condition", "ride_at_risk"),): 1,
    }


def test_a_scrape_while_the_database_is_away_still_answers_without_the_gauges_it_cannot_read():
    metrics = ServiceMetrics("notifications")
    metrics.published("notification.sent")

    def database_away():
        raise ConnectionError("connection to 10.0.0.5 refused")

    metrics.watch(consumer=lambda: {"consuming": True}, outbox=database_away, figures=database_away)

    found = samples(metrics)

    assert found[("clinic_events_published_total", (("event_type", "notification.sent"),))] == 1
    assert found[("clinic_consumer_connected", ())] == 1
    assert ("clinic_outbox_pending", ()) not in found
    assert ("clinic_alert", (("condition", "outbox_row_older_than_threshold"),)) not in found


def app_with_metrics(metrics: ServiceMetrics):
    api = Blueprint("api", __name__)

    @api.get("/rides/<id:ride_id>")
    def ride(ride_id):
        return {"id": ride_id}

    return create_service_app(__name__, api, service_token=TOKEN, service="transport", metrics=metrics)


def test_http_latency_is_observed_by_url_rule_method_and_status_so_ids_never_become_labels():
    metrics = ServiceMetrics("transport")
    client = app_with_metrics(metrics).test_client()
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for ride_id in ids:
        assert client.get(f"/api/rides/{ride_id}", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert client.get(f"/api/rides/{ids[0]}").status_code == 401
    assert client.get("/no/such/page").status_code == 404

    found = samples(metrics)
    counts = {labels: value for (name, labels), value in found.items() if name == "clinic_http_request_seconds_count"}

    assert counts[(("method", "GET"), ("route", "/api/rides/<id:ride_id>"), ("status", "200"))] == 3
    assert counts[(("method", "GET"), ("route", "/api/rides/<id:ride_id>"), ("status", "401"))] == 1
    assert counts[(("method", "GET"), ("route", "unmatched"), ("status", "404"))] == 1
    assert not any(ride_id in str(found) for ride_id in ids)


def test_metrics_are_served_as_prometheus_text_without_a_token():
    metrics = ServiceMetrics("transport")
    metrics.published("ride.requested")
    reply = app_with_metrics(metrics).test_client().get("/metrics")

    assert reply.status_code == 200
    assert reply.content_type.startswith("text/plain; version=")
    assert 'clinic_events_published_total{event_type="ride.requested"} 1.0' in reply.get_data(as_text=True)


def test_the_consumer_tells_its_observer_each_outcome_and_each_failed_attempt_on_the_embedded_broker():
    tag = uuid.uuid4().hex[:8]
    queue = QueueSpec(f"work-{tag}", binds=(SESSION_BOOKED,))
    topology = Topology(exchange=f"events-{tag}", dead_letter_exchange=f"dlx-{tag}", queues=(queue,))
    metrics = ServiceMetrics("transport")
    failures = {"left": 1}
    refused = set()

    def handler(event):
        if event.event_id in refused:
            raise PoisonMessage("the data cannot be handled")
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("database restarting")

    retry = RetryPolicy(attempts=3, initial_delay=0.01, max_delay=0.02, window=60)
    consumer = EventConsumer(
        "memory://", topology, queue, {SESSION_BOOKED.name: handler}, retry=retry, observer=metrics
    )
    publisher = EventPublisher("memory://", topology)
    thread = threading.Thread(target=consumer.run_until_stopped, daemon=True)
    thread.start()
    try:
        eventually(consumer.ready.is_set, what="the consumer getting ready")
        good, poison = session_booked().stamped_by("scheduler"), session_booked().stamped_by("scheduler")
        refused.add(poison.event_id)
        for event in (good, poison):
            publisher.publish(OutgoingMessage(event.event_id, event.type, to_json(event), event.correlation_id))
        booked = (("event_type", "session.booked"),)
        eventually(
            lambda: samples(metrics).get(("clinic_event_handler_seconds_count", booked)) == 2,
            what="both deliveries settled",
        )
    finally:
        publisher.close()
        consumer.stop()
        thread.join(10)

    found = samples(metrics)
    assert found[("clinic_events_consumed_total", (("event_type", "session.booked"), ("outcome", "handled")))] == 1
    dead = (("event_type", "session.booked"), ("outcome", "dead_lettered"))
    assert found[("clinic_events_consumed_total", dead)] == 1
    assert found[("clinic_events_failed_total", booked)] == 1  # the passing failure; a refusal is no failed attempt
