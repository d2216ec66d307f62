"""Log lines as JSON: one object per record with a fixed set of fields, the service and the event from context (the
consumer's, a runtime thread's, a request's), exceptions without their messages as before."""

import io
import json
import logging
import sqlite3
import threading
import uuid

import pytest
import requests
from flask import Blueprint
from integration.helpers import eventually, session_booked

from shared import log_context
from shared.contract import SESSION_BOOKED, to_json
from shared.logging_setup import JsonLogFormatter, configure_logging
from shared.messaging import EventConsumer, EventPublisher, OutgoingMessage
from shared.messaging.topology import QueueSpec, Topology
from shared.runtime import ServiceRuntime
from shared.web import create_service_app

SECRET = "Ottoline Fairweather +14155550133"
FIELDS = ["time", "level", "logger", "message", "service", "event_type", "event_id", "correlation_id", "thread"]


@pytest.fixture
def captured():
    """Records of every logger as JSON lines, through the formatter configure_logging installs."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_a_record_is_one_json_object_with_exactly_the_agreed_fields_in_order(captured):
    logging.getLogger("clinic.test").warning("relay paused %.1fs", 2.5)

    (line,) = captured()
    assert list(line) == FIELDS
    assert line["level"] == "WARNING"
    assert line["logger"] == "clinic.test"
    assert line["message"] == "relay paused 2.5s"
    assert line["time"].endswith("+00:00")
    assert line["thread"] == threading.current_thread().name
    assert [line[f] for f in ("service", "event_type", "event_id", "correlation_id")] == [None] * 4


def test_the_context_names_the_service_and_the_event_and_is_restored_after_its_block(captured):
    log = logging.getLogger("clinic.test")
    with log_context.bound(service="transport"):
        with log_context.bound(event_type="session.booked", event_id="e-1", correlation_id="s-1"):
            log.info("handled")
        log.info("after")

    inside, after = captured()
    assert (inside["service"], inside["event_type"], inside["event_id"], inside["correlation_id"]) == (
        "transport",
        "session.booked",
        "e-1",
        "s-1",
    )
    assert (after["service"], after["event_id"], after["correlation_id"]) == ("transport", None, None)


def test_an_unknown_context_field_is_refused():
    with pytest.raises(ValueError, match="patient_name"), log_context.bound(patient_name="x"):
        pass


def test_exceptions_are_printed_without_their_messages_and_extras_never_reach_a_line(captured):
    log = logging.getLogger("some.library")
    try:
        raise sqlite3.IntegrityError(f"UNIQUE constraint failed: {SECRET}")
    except sqlite3.IntegrityError as exc:
        log.exception("insert failed: %s", exc, extra={"patient": SECRET})
    log.info({"name": SECRET.split()[0]} | {"n": 1})

    failure, as_dict = captured()
    assert failure["message"] == "insert failed: IntegrityError"
    assert "Traceback" in failure["exc_info"] and "IntegrityError" in failure["exc_info"]
    assert SECRET not in json.dumps(failure)
    assert "patient" not in failure
    assert list(as_dict) == FIELDS, "a dict logged is a message, not fields of the line"


def test_configure_logging_prints_json_lines_by_default_and_text_when_asked(monkeypatch, capsys):
    monkeypatch.setattr(logging.root, "handlers", [])
    monkeypatch.setattr(logging.root, "level", logging.WARNING)
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    configure_logging("info")
    logging.getLogger("clinic.test").info("as json")
    assert json.loads(capsys.readouterr().err)["message"] == "as json"

    monkeypatch.setenv("LOG_FORMAT", "text")
    configure_logging("info")
    logging.getLogger("clinic.test").info("as text")
    assert capsys.readouterr().err.rstrip().endswith("clinic.test: as text")

    with pytest.raises(ValueError, match="LOG_FORMAT"):
        configure_logging("info", "xml")


class Talker:
    """A worker that logs once from its own thread."""

    def __init__(self):
        self.done = threading.Event()

    def run_until_stopped(self):
        logging.getLogger("clinic.worker").info("worker running")
        self.done.set()

    def stop(self):
        pass


def test_a_runtimes_threads_and_its_requests_log_under_its_service_though_threads_inherit_no_context(captured):
    api = Blueprint("api", __name__)
    app = create_service_app(__name__, api, service_token="t", service="notifications")

    @app.get("/talk")
    def talk():
        logging.getLogger("clinic.request").info("request handled")
        return {"ok": True}

    worker = Talker()
    runtime = ServiceRuntime("notifications", app, "127.0.0.1", 0, workers=[worker])
    runtime.start()
    try:
        worker.done.wait(10)
        assert requests.get(f"http://127.0.0.1:{runtime.port}/talk", timeout=10).status_code == 200
    finally:
        runtime.stop(timeout=10)

    by_message = {line["message"]: line for line in captured()}
    assert by_message["worker running"]["service"] == "notifications"
    assert by_message["request handled"]["service"] == "notifications"
    assert all(line["service"] == "notifications" for line in captured())
    assert log_context.current()["service"] is None, "the test's own thread is left as it was"


def test_the_consumer_logs_handling_an_event_with_its_type_id_and_session_as_correlation_id(captured):
    tag = uuid.uuid4().hex[:8]
    queue = QueueSpec(f"work-{tag}", binds=(SESSION_BOOKED,))
    topology = Topology(exchange=f"events-{tag}", dead_letter_exchange=f"dlx-{tag}", queues=(queue,))

    def handler(event):
        logging.getLogger("clinic.handler").info("planning messages")

    consumer = EventConsumer("memory://", topology, queue, {SESSION_BOOKED.name: handler})
    publisher = EventPublisher("memory://", topology)
    thread = threading.Thread(target=log_context.as_service("transport")(consumer.run_until_stopped), daemon=True)
    thread.start()
    event = session_booked().stamped_by("scheduler")
    try:
        eventually(consumer.ready.is_set, what="the consumer getting ready")
        publisher.publish(OutgoingMessage(event.event_id, event.type, to_json(event), event.correlation_id))
        eventually(lambda: consumer.status().get("last_handled"), what="the event being handled")
    finally:
        publisher.close()
        consumer.stop()
        thread.join(10)

    lines = [line for line in captured() if line["event_id"] == event.event_id]
    assert {line["message"] for line in lines} >= {"planning messages", f"handled session.booked {event.event_id}"}
    for line in lines:
        assert (line["service"], line["event_type"], line["correlation_id"]) == (
            "transport",
            "session.booked",
            event.data["session_id"],
        )
    after = [line for line in captured() if line["message"].startswith("stopped consuming")]
    assert after and after[0]["event_id"] is None, "the event's context ends with its handling"
