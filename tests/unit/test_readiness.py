"""Readiness: each check and why it fails, the outbox's threshold, the database probe's timeout, the broker probe's
cache, and /healthz and /readyz as the app serves them."""

import threading

import pytest
from flask import Blueprint
from sqlalchemy import create_engine

from shared.messaging.probe import BrokerProbe
from shared.web import create_service_app
from shared.web.health import (
    DEFAULT_OUTBOX_STUCK_AFTER,
    Check,
    DatabaseProbe,
    Readiness,
    ReadinessProbe,
    outbox_stuck_after,
)


class FakeConsumer:
    def __init__(self, **status):
        self._status = {"consuming": True, "stuck": False, **status}

    def status(self) -> dict:
        return dict(self._status)


class FakeRelay:
    def __init__(self, pending=0, age=None, failing=None):
        self.pending, self.age, self.failing = pending, age, failing
        self.asked_max_age: list[float] = []

    def status(self) -> dict:
        if self.failing:
            raise self.failing
        return {"pending": self.pending, "oldest_unsent_age_seconds": self.age, "last_round_at": None}

    def stuck(self, max_age: float) -> bool:
        self.asked_max_age.append(max_age)
        return self.age is not None and self.age > max_age


def probe(**overrides) -> ReadinessProbe:
    options = {
        "database": lambda: None,
        "broker": lambda: None,
        "consumer": FakeConsumer(),
        "relay": FakeRelay(),
        "figures": lambda: {"rides_at_risk": 1},
        **overrides,
    }
    return ReadinessProbe("transport", **options)


def test_a_service_whose_checks_all_pass_is_ready_and_says_what_ops_want_to_see():
    readiness = probe()()

    assert readiness.ready
    assert readiness.to_dict() == {
        "service": "transport",
        "status": "ready",
        "checks": {"database": {"ok": True}, "broker": {"ok": True}, "consumer": {"ok": True}, "outbox": {"ok": True}},
        "consumer": {"consuming": True, "stuck": False},
        "outbox": {"pending": 0, "oldest_unsent_age_seconds": None, "last_round_at": None},
        "figures": {"rides_at_risk": 1},
    }


def test_an_unreachable_broker_makes_the_service_not_ready_saying_so():
    body = probe(broker=lambda: "unreachable (ConnectionRefusedError)")().to_dict()

    assert body["status"] == "not_ready"
    assert body["checks"]["broker"] == {"ok": False, "detail": "unreachable (ConnectionRefusedError)"}


def test_a_consumer_not_consuming_or_stuck_on_a_message_makes_the_service_not_ready():
    idle = probe(consumer=FakeConsumer(consuming=False))()
    stuck = probe(consumer=FakeConsumer(consuming=False, stuck=True, stuck_for_seconds=75.0))()

    assert not idle.ready and "not consuming" in (idle.checks["consumer"].detail or "")
    assert not stuck.ready and stuck.checks["consumer"].detail == "stuck on one message for 75.0s"


def test_an_outbox_row_older_than_the_threshold_makes_the_service_not_ready_naming_its_age():
    relay = FakeRelay(pending=2, age=300.0)
    readiness = probe(relay=relay, outbox_stuck_after=120)()

    assert not readiness.ready
    assert readiness.checks["outbox"] == Check(False, "stuck: the oldest unsent event has waited 300s (threshold 120s)")
    assert readiness.outbox["pending"] == 2
    assert relay.asked_max_age == [120]


def test_while_the_database_does_not_answer_the_outbox_is_unknown_and_no_figures_are_asked():
    asked = []
    readiness = probe(database=lambda: "unreachable (OperationalError)", figures=lambda: asked.append(1) or {})()

    assert readiness.checks["database"] == Check(False, "unreachable (OperationalError)")
    assert readiness.checks["outbox"] == Check(False, "unknown while the database does not answer")
    assert readiness.figures == {} and asked == []


def test_a_check_that_raises_fails_by_the_exceptions_type_only():
    def broker():
        raise RuntimeError("amqp://guest:secret@broker")

    readiness = probe(broker=broker, relay=FakeRelay(failing=OSError("disk full at /var/secret")))()

    assert readiness.checks["broker"] == Check(False, "check failed (RuntimeError)")
    assert readiness.checks["outbox"] == Check(False, "status unavailable (OSError)")
    assert "secret" not in str(readiness.to_dict())


def test_figures_that_fail_never_make_a_service_unready():
    def figures():
        raise TimeoutError()

    readiness = probe(figures=figures)()

    assert readiness.ready and readiness.figures == {}


def test_the_database_probe_answers_select_1_and_gives_up_on_a_hung_database_without_piling_up_checks(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert DatabaseProbe(engine)() is None

    release = threading.Event()
    hung = DatabaseProbe(engine, timeout=0.05)
    hung._select_one = lambda: release.wait(60)  # a connection attempt that never ends
    try:
        assert hung() == "no answer within 0.05s"
        assert hung() == "no answer yet to the previous check"
    finally:
        release.set()


def test_the_database_probe_says_the_database_is_unreachable_by_the_errors_type():
    engine = create_engine("sqlite:////nonexistent-dir/for/sure/db.sqlite3")
    assert DatabaseProbe(engine)() == "unreachable (OperationalError)"


def test_the_broker_probe_keeps_its_answer_a_few_seconds_and_trusts_the_in_memory_broker():
    now = [0.0]
    broker = BrokerProbe("amqp://guest:guest@127.0.0.1:1//", timeout=1, cache_seconds=5, clock=lambda: now[0])
    checks = []
    real_check = broker._check
    broker._check = lambda: checks.append(1) or real_check()

    first = broker()
    now[0] = 4.0
    cached = broker()
    now[0] = 6.0
    again = broker()

    assert first == cached == again == "unreachable (ConnectionRefusedError)"
    assert len(checks) == 2
    assert "guest" not in first
    assert BrokerProbe("memory://")() is None


@pytest.mark.parametrize(
    ("text", "expected"), [(None, DEFAULT_OUTBOX_STUCK_AFTER), ("", DEFAULT_OUTBOX_STUCK_AFTER), ("30", 30.0)]
)
def test_the_outbox_threshold_comes_from_outbox_stuck_after_seconds(text, expected):
    environ = {} if text is None else {"OUTBOX_STUCK_AFTER_SECONDS": text}
    assert outbox_stuck_after(environ) == expected


@pytest.mark.parametrize("text", ["soon", "0", "-5"])
def test_a_bad_outbox_threshold_refuses_the_start(text):
    with pytest.raises(ValueError, match="OUTBOX_STUCK_AFTER_SECONDS"):
        outbox_stuck_after({"OUTBOX_STUCK_AFTER_SECONDS": text})


def app(readiness, health=None):
    return create_service_app(
        __name__, Blueprint("api", __name__), service_token="t", service="transport", health=health, readiness=readiness
    ).test_client()


def test_readyz_answers_200_when_ready_and_503_when_not_without_a_token():
    ready = Readiness("transport", {"database": Check(True)})
    not_ready = Readiness("transport", {"database": Check(True), "broker": Check(False, "unreachable (OSError)")})

    assert app(lambda: ready).get("/readyz").status_code == 200
    answer = app(lambda: not_ready).get("/readyz")
    assert answer.status_code == 503
    assert answer.get_json()["status"] == "not_ready"
    assert answer.get_json()["checks"]["broker"] == {"ok": False, "detail": "unreachable (OSError)"}


def test_healthz_answers_200_with_the_service_while_the_process_lives_even_when_its_details_fail():
    def details():
        raise ConnectionError("database away")

    answer = app(lambda: Readiness("transport", {}), health=details).get("/healthz")

    assert answer.status_code == 200
    assert answer.get_json() == {"status": "ok", "service": "transport"}
