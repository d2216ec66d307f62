"""The ops alert rules, each on hand-made figures: a queue nobody consumes, a dead letter waiting, a queue too deep,
an outbox row left unsent too long, a ride at risk, a service not ready, the broker out of reach; and the thresholds
read from settings."""

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest

from services.scheduler.adapters.service_probes import state_from_readiness
from services.scheduler.domain.ops import (
    AlertKind,
    BusinessView,
    RideAtRisk,
    ServiceState,
    Severity,
    Thresholds,
    alerts,
)

THRESHOLDS = Thresholds(queue_depth=10, outbox_age_seconds=60)


@dataclass(frozen=True)
class Queue:
    name: str
    kind: str = "work"
    of_queue: str = ""
    ready: int | None = 0
    consumers: int | None = 1
    exists: bool = True


def ready(name: str, **changes) -> ServiceState:
    return ServiceState(name, None, reachable=True, ready=True, **changes)


def found(*, queues=(), services=(), business=None, reachable=True, error=None) -> list[tuple[str, str, str]]:
    return [
        (alert.kind.value, alert.subject, alert.severity.value)
        for alert in alerts(
            broker_reachable=reachable,
            broker_error=error,
            queues=list(queues),
            services=list(services),
            business=business,
            thresholds=THRESHOLDS,
        )
    ]


def test_healthy_figures_raise_no_alert():
    queues = [Queue("transport.events"), Queue("transport.events.dlq", kind="dead_letters", consumers=0)]

    assert found(queues=queues, services=[ready("transport")]) == []


def test_a_work_queue_without_a_consumer_is_critical():
    assert found(queues=[Queue("transport.events", consumers=0)]) == [("no_consumer", "transport.events", "critical")]


def test_a_queue_kept_for_reading_without_a_consumer_or_deep_raises_nothing():
    assert found(queues=[Queue("audit.events", consumers=0, ready=50_000)]) == []


def test_a_work_queue_missing_from_the_broker_is_critical():
    assert found(queues=[Queue("notifications.events", exists=False, consumers=None, ready=None)]) == [
        ("no_consumer", "notifications.events", "critical")
    ]


def test_consumers_the_source_cannot_count_raise_nothing():
    assert found(queues=[Queue("transport.events", consumers=None, ready=None)]) == []


def test_a_dead_letter_queue_holding_anything_is_critical_and_says_how_many():
    [alert] = alerts(
        broker_reachable=True,
        broker_error=None,
        queues=[Queue("transport.events.dlq", kind="dead_letters", ready=2, consumers=0)],
        services=[],
        business=None,
        thresholds=THRESHOLDS,
    )

    assert (alert.kind, alert.subject, alert.severity) == (
        AlertKind.DEAD_LETTERS,
        "transport.events.dlq",
        Severity.CRITICAL,
    )
    assert "2 dead letters" in alert.message


def test_a_retry_queue_holding_messages_waiting_their_delay_raises_nothing():
    assert found(queues=[Queue("transport.events.retry", kind="retry", ready=40, consumers=0)]) == []


def test_a_work_queue_deeper_than_the_threshold_is_a_warning_and_at_the_threshold_is_not():
    assert found(queues=[Queue("transport.events", ready=11)]) == [("queue_depth", "transport.events", "warning")]
    assert found(queues=[Queue("transport.events", ready=10)]) == []


def test_an_outbox_row_older_than_the_threshold_is_a_warning():
    services = [ready("notifications", oldest_unsent_age_seconds=61.0), ready("transport", oldest_unsent_age_seconds=5)]

    assert found(services=services) == [("outbox_age", "notifications", "warning")]


def test_a_service_not_ready_is_critical_with_its_failing_checks_in_the_message():
    service = state_from_readiness(
        "transport",
        "http://127.0.0.1:8002",
        503,
        {"status": "not_ready", "checks": {"database": {"ok": True}, "broker": {"ok": False, "detail": "unreachable"}}},
    )

    [alert] = alerts(
        broker_reachable=True, broker_error=None, queues=[], services=[service], business=None, thresholds=THRESHOLDS
    )

    assert (alert.kind, alert.subject, alert.severity) == (AlertKind.SERVICE_NOT_READY, "transport", Severity.CRITICAL)
    assert "broker: unreachable" in alert.message


def test_a_service_that_does_not_answer_is_not_ready():
    service = ServiceState("notifications", "http://127.0.0.1:8003", reachable=False, ready=False, error="timed out")

    assert found(services=[service]) == [("service_not_ready", "notifications", "critical")]


def test_each_ride_at_risk_is_a_warning_about_its_session():
    business = BusinessView(
        day=date(2027, 1, 5),
        sessions_today=3,
        without_confirmed_ride=2,
        rides_at_risk=(
            RideAtRisk("session-1", datetime(2027, 1, 5, 9, 0, tzinfo=UTC)),
            RideAtRisk("session-2", datetime(2027, 1, 6, 9, 0, tzinfo=UTC)),
        ),
        messages_failed=0,
    )

    assert found(business=business) == [
        ("ride_at_risk", "session-1", "warning"),
        ("ride_at_risk", "session-2", "warning"),
    ]


def test_an_unreachable_broker_is_one_critical_alert_and_its_stale_queues_say_nothing():
    queues = [Queue("transport.events", consumers=0), Queue("transport.events.dlq", kind="dead_letters", ready=3)]

    assert found(queues=queues, reachable=False, error="connection refused") == [
        ("broker_unreachable", "broker", "critical")
    ]


def test_critical_alerts_come_before_warnings():
    queues = [Queue("transport.events", ready=50), Queue("scheduler.events", consumers=0)]

    assert [kind for kind, _subject, _severity in found(queues=queues)] == ["no_consumer", "queue_depth"]


def test_thresholds_come_from_settings_with_defaults_for_what_is_not_set():
    assert Thresholds.from_mapping({"OPS_QUEUE_DEPTH_ALERT": "250"}) == Thresholds(queue_depth=250)
    assert Thresholds.from_mapping({"OPS_OUTBOX_AGE_ALERT_SECONDS": "30"}).outbox_age_seconds == 30.0
    assert Thresholds.from_mapping({}) == Thresholds()


@pytest.mark.parametrize(
    "setting",
    [{"OPS_QUEUE_DEPTH_ALERT": "many"}, {"OPS_QUEUE_DEPTH_ALERT": "0"}, {"OPS_OUTBOX_AGE_ALERT_SECONDS": "-1"}],
)
def test_a_threshold_that_makes_no_sense_is_refused_at_start(setting):
    with pytest.raises(ValueError, match="ops alert thresholds"):
        Thresholds.from_mapping(setting)


def test_a_readiness_answer_without_the_expected_shape_reads_as_not_ready():
    state = state_from_readiness("transport", "http://x", 404, {"errors": {"_request": ["Not Found"]}})

    assert (state.reachable, state.ready) == (True, False)
    assert "404" in (state.error or "")


def test_a_readiness_answer_gives_the_last_event_handled_and_the_outbox_backlog():
    state = state_from_readiness(
        "notifications",
        "http://x",
        200,
        {
            "status": "ready",
            "checks": {"database": {"ok": True}},
            "consumer": {
                "consuming": True,
                "stuck": False,
                "last_handled": {"type": "session.booked", "event_id": "e1", "at": "t"},
            },
            "outbox": {"pending": 3, "oldest_unsent_age_seconds": 4.5},
            "figures": {"messages_failed": 2},
        },
    )

    assert state.ready and state.consumer_status == "consuming"
    assert (state.last_handled.type, state.last_handled.event_id) == ("session.booked", "e1")
    assert (state.outbox_pending, state.oldest_unsent_age_seconds) == (3, 4.5)
    assert state.figures == {"messages_failed": 2}


def test_a_consumer_stuck_on_a_message_or_disconnected_is_said_so_in_words():
    def status_of(consumer: dict) -> str | None:
        return state_from_readiness(
            "transport", "http://x", 503, {"status": "not_ready", "consumer": consumer}
        ).consumer_status

    assert status_of({"consuming": False, "stuck": True, "stuck_for_seconds": 75.0}) == "stuck"
    assert status_of({"consuming": False, "stuck": False}) == "not consuming"
    assert status_of({}) is None
