"""Queue figures: which source is used, what the management API's answer becomes, and the in-memory broker's depths.

The management API is replaced by a hand-written fake of ``requests.get``; the real API is exercised by
tests/integration/test_queue_inspection.py.
"""

import uuid

import pytest
import requests
from integration.helpers import session_booked

from shared.contract import SESSION_BOOKED, to_json
from shared.messaging import EventPublisher, OutgoingMessage
from shared.messaging import inspection as inspection_module
from shared.messaging.inspection import QueueFigures, queue_inspector, topology_queues, virtual_host
from shared.messaging.topology import CLINIC_TOPOLOGY, QueueSpec, Topology


@pytest.mark.parametrize(
    ("url", "vhost"),
    [
        ("amqp://guest:guest@127.0.0.1:5672/test-1a2b", "test-1a2b"),
        ("amqp://guest:guest@127.0.0.1:5672//", "/"),
        ("amqp://guest:guest@127.0.0.1:5672/%2F", "/"),
        ("amqp://127.0.0.1", "/"),
        ("amqp://127.0.0.1/", "/"),
        ("amqp://127.0.0.1/clinic%2Fstaging", "clinic/staging"),
    ],
)
def test_the_vhost_is_read_from_the_broker_url(url, vhost):
    assert virtual_host(url) == vhost


def test_every_queue_of_the_topology_is_listed_each_work_queue_followed_by_its_dead_letter_and_retry_queues():
    assert list(topology_queues(CLINIC_TOPOLOGY)) == [
        ("scheduler.events", "work", "scheduler.events"),
        ("scheduler.events.dlq", "dead_letters", "scheduler.events"),
        ("scheduler.events.retry", "retry", "scheduler.events"),
        ("transport.events", "work", "transport.events"),
        ("transport.events.dlq", "dead_letters", "transport.events"),
        ("transport.events.retry", "retry", "transport.events"),
        ("notifications.events", "work", "notifications.events"),
        ("notifications.events.dlq", "dead_letters", "notifications.events"),
        ("notifications.events.retry", "retry", "notifications.events"),
        ("audit.events", "work", "audit.events"),
    ]


# --- the management API, faked ---------------------------------------------------------------------------------


class FakeResponse:
    def __init__(self, status_code: int, document=None, text: str | None = None):
        self.status_code = status_code
        self._document = document
        self._text = text

    def json(self):
        if self._text is not None:
            raise ValueError("not JSON")
        return self._document


class FakeGet:
    """Stands in for ``requests.get``: answers what it is given, or raises it, and records each call."""

    def __init__(self, answer):
        self.answer = answer
        self.calls: list[tuple[str, object, object]] = []

    def __call__(self, url, *, auth=None, timeout=None):
        self.calls.append((url, auth, timeout))
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


ONE_QUEUE = Topology(queues=(QueueSpec("work", binds=(SESSION_BOOKED,)),))


def management(monkeypatch, answer) -> FakeGet:
    fake = FakeGet(answer)
    monkeypatch.setattr(inspection_module.requests, "get", fake)
    return fake


def test_the_management_api_is_asked_once_for_the_vhost_s_queues_with_the_configured_credentials(monkeypatch):
    fake = management(monkeypatch, FakeResponse(200, []))
    inspector = queue_inspector(
        "amqp://app:secret@rabbit:5672//",
        ONE_QUEUE,
        management_url="http://rabbit:15672/",
        management_user="monitor",
        management_password="watch",
        timeout=2.5,
    )

    inspector.snapshot()

    assert fake.calls == [("http://rabbit:15672/api/queues/%2F", ("monitor", "watch"), 2.5)]


def test_the_management_api_s_rows_become_figures_and_a_queue_it_does_not_list_is_missing(monkeypatch):
    rows = [
        {
            "name": "work",
            "messages_ready": 4,
            "messages_unacknowledged": 2,
            "consumers": 1,
            "message_stats": {"publish_details": {"rate": 1.5}, "deliver_get_details": {"rate": 0}},
        },
        {"name": "work.dlq"},  # just declared: no statistics yet
        {"name": "someone.elses", "messages_ready": 99},
    ]
    management(monkeypatch, FakeResponse(200, rows))

    snapshot = queue_inspector("amqp://rabbit/clinic", ONE_QUEUE, management_url="http://rabbit:15672").snapshot()

    assert snapshot.source == "management" and snapshot.reachable and snapshot.error is None
    assert snapshot.queues == (
        QueueFigures("work", "work", "work", 4, 2, 1, 1.5, 0.0),
        QueueFigures("work.dlq", "dead_letters", "work", None, None, None, None, None),
        QueueFigures("work.retry", "retry", "work", None, None, None, None, None, exists=False),
    )
    assert isinstance(snapshot.queues[0].deliver_rate, float)


def test_a_vhost_the_management_api_does_not_know_yet_shows_every_queue_missing(monkeypatch):
    management(monkeypatch, FakeResponse(404, {"error": "Object Not Found"}))

    snapshot = queue_inspector("amqp://rabbit/new", ONE_QUEUE, management_url="http://rabbit:15672").snapshot()

    assert snapshot.reachable
    assert [q.exists for q in snapshot.queues] == [False, False, False]


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (FakeResponse(401, {"error": "not_authorised"}), "refused the credentials (HTTP 401)"),
        (FakeResponse(503, {}), "HTTP 503"),
        (FakeResponse(200, text="<html>"), "not JSON"),
        (FakeResponse(200, {"not": "a list"}), "unexpected"),
        (requests.ConnectionError("http://monitor:watch@rabbit:15672 refused"), "unreachable: ConnectionError"),
        (requests.Timeout("read timed out"), "unreachable: Timeout"),
    ],
)
def test_a_management_api_that_fails_gives_an_unreachable_snapshot_naming_the_failure_but_no_credentials(
    monkeypatch, answer, said
):
    management(monkeypatch, answer)
    inspector = queue_inspector(
        "amqp://app:secret@rabbit/clinic",
        ONE_QUEUE,
        management_url="http://rabbit:15672",
        management_user="monitor",
        management_password="watch",
    )

    snapshot = inspector.snapshot()

    assert snapshot.source == "management"
    assert not snapshot.reachable and snapshot.queues == ()
    assert said in snapshot.error
    assert not any(secret in snapshot.error for secret in ("monitor", "watch", "secret"))


# --- the in-memory broker -------------------------------------------------------------------------------------


def test_the_in_memory_broker_gives_each_queue_s_depth_and_leaves_the_rest_unknown():
    tag = uuid.uuid4().hex[:8]  # the in-memory broker is shared by every test of the process
    work = QueueSpec(f"work-{tag}", binds=(SESSION_BOOKED,))
    topology = Topology(exchange=f"events-{tag}", dead_letter_exchange=f"dlx-{tag}", queues=(work,))
    publisher = EventPublisher("memory://", topology)
    try:
        for _ in range(2):
            event = session_booked()
            publisher.publish(OutgoingMessage(event.event_id, event.type, to_json(event), event.correlation_id))
    finally:
        publisher.close()

    snapshot = queue_inspector("memory://", topology).snapshot()

    assert snapshot.source == "in-memory" and snapshot.reachable
    assert [(q.name, q.ready, q.exists) for q in snapshot.queues] == [
        (work.name, 2, True),
        (work.dead_letter_queue, 0, True),
        (work.retry_queue, 0, True),
    ]
    assert all(q.consumers is None and q.unacknowledged is None for q in snapshot.queues)
    assert snapshot.to_dict()["queues"][0]["ready"] == 2


def test_on_the_in_memory_broker_a_queue_nobody_declared_is_missing():
    topology = Topology(queues=(QueueSpec(f"never-{uuid.uuid4().hex[:8]}", binds=(SESSION_BOOKED,)),))

    snapshot = queue_inspector("memory://", topology).snapshot()

    assert snapshot.reachable
    assert [q.exists for q in snapshot.queues] == [False, False, False]
