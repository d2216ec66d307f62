"""The scheduler's transactional outbox and its relay, on SQLite and on PostgreSQL, against the real RabbitMQ."""

import itertools

import pytest
from integration.helpers import (
    CLOSED_PORT_URL,
    QueueReader,
    always_open_clinic,
    clinic_time,
    eventually,
    running,
    session_booked,
)
from sqlalchemy import select

from services.scheduler.adapters import tables
from services.scheduler.bootstrap import MIGRATIONS, bootstrap
from shared.contract import SESSION_BOOKED
from shared.messaging import CLINIC_TOPOLOGY, EventPublisher, PublishFailed, QueueSpec, Topology
from shared.messaging.topology import NOTIFICATIONS_QUEUE
from shared.persistence import create_database_engine
from shared.persistence.outbox import OutboxWriter
from shared.persistence.service_database import open_service_database
from shared.settings import Settings

pytestmark = pytest.mark.integration

TOKEN = "relay-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ESCORT = {"mode": "escort", "escort_name": "Tobias Quinlan", "escort_phone": "+14155550142"}
_slots = itertools.count()  # a distinct start time for every booking, during opening hours


def next_slot() -> str:
    slot = next(_slots)
    return clinic_time(30 + slot // 8, 8 + slot % 8)


def scheduler(broker_url: str, database_url: str, **kwargs):
    settings = Settings(
        service="scheduler",
        broker_url=broker_url,
        database_url=database_url,
        port=0,
        service_token=TOKEN,
        scheduler_url="http://127.0.0.1:1",
    )
    return bootstrap(settings, **{"clinic": always_open_clinic(), **kwargs})


class FrontDesk:
    """Books and cancels through the scheduler's HTTP API, as the clinic's front desk does."""

    def __init__(self, runtime):
        self.client = runtime.app.test_client()

    def register_patient(self) -> str:
        response = self.client.post(
            "/api/patients", json={"name": "Marguerite Quinlan", "phone": "+14155550199"}, headers=AUTH
        )
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.get_json()["id"]

    def book(self, *, chair_id: str | None = None, starts_at: str | None = None, expect: int = 201) -> dict:
        body = {
            "patient_id": self.register_patient(),
            "treatment_type": "iv_infusion",
            "starts_at": starts_at or next_slot(),
            "chair_id": chair_id,
            "ride_home": ESCORT,
        }
        response = self.client.post("/api/sessions", json=body, headers=AUTH)
        assert response.status_code == expect, response.get_data(as_text=True)
        return response.get_json()

    def cancel(self, session_id: str) -> dict:
        response = self.client.post(
            f"/api/sessions/{session_id}/cancel", json={"reason": "patient_unwell"}, headers=AUTH
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()


@pytest.fixture
def outbox_rows(database_url):
    engine = create_database_engine(database_url, schema="scheduler")

    def read():
        outbox = tables.messaging.outbox
        with engine.connect() as connection:
            return connection.execute(select(outbox).order_by(outbox.c.position)).all()

    yield read
    engine.dispose()


def test_a_booking_writes_session_booked_in_the_outbox_and_the_relay_publishes_it_and_marks_it_published(
    broker_url, database_url, outbox_rows
):
    runtime = scheduler(broker_url, database_url)
    relay = runtime.workers[0]
    desk = FrontDesk(runtime)
    audit = QueueReader(broker_url, "audit.events")

    session = desk.book()

    [row] = outbox_rows()
    assert row.routing_key == "session.booked"
    assert row.published_at is None
    assert row.correlation_id == session["id"]
    assert relay.pending() == 1

    with running(relay, name="scheduler relay"):
        [message] = audit.wait_for(
            lambda messages: [m for m in messages if m.data["session_id"] == session["id"]],
            what="session.booked reaching audit.events",
        )
        eventually(lambda: relay.pending() == 0, what="the relay marking the event published")

    assert message.type == "session.booked"
    assert message.properties.message_id == row.event_id
    assert message.properties.delivery_mode == 2
    assert message.body == row.body.encode("utf-8")
    assert message.document["producer"] == "scheduler"
    assert message.data["chair_id"] == session["chair_id"]
    [row] = outbox_rows()
    assert row.published_at is not None
    assert row.last_error is None


def test_a_booking_made_while_the_relay_runs_is_published_after_its_commit(broker_url, database_url, outbox_rows):
    runtime = scheduler(broker_url, database_url)
    relay = runtime.workers[0]
    desk = FrontDesk(runtime)
    audit = QueueReader(broker_url, "audit.events")

    with running(relay, name="scheduler relay"):
        sessions = [desk.book() for _ in range(3)]
        audit.wait_for(
            lambda messages: {m.data["session_id"] for m in messages} >= {s["id"] for s in sessions},
            what="the three bookings reaching audit.events",
        )
        eventually(lambda: relay.pending() == 0, what="the relay marking the events published")

    assert [m.data["session_id"] for m in audit.messages] == [s["id"] for s in sessions]
    assert all(row.published_at is not None for row in outbox_rows())


def test_with_the_broker_unreachable_a_booking_still_succeeds_and_its_event_waits_in_the_outbox_until_a_relay_can_publish(
    broker_url, database_url, outbox_rows
):
    offline = scheduler(
        broker_url, database_url, publisher_factory=lambda: EventPublisher(CLOSED_PORT_URL, CLINIC_TOPOLOGY)
    )
    relay = offline.workers[0]
    session = FrontDesk(offline).book()  # asserts HTTP 201

    publisher = EventPublisher(CLOSED_PORT_URL, CLINIC_TOPOLOGY)
    try:
        with pytest.raises(PublishFailed):
            relay.publish_pending(publisher)
    finally:
        publisher.close()
    assert relay.pending() == 1
    [row] = outbox_rows()
    assert row.published_at is None

    # The broker is reachable again (the service restarted with a working broker).
    online = scheduler(broker_url, database_url)
    audit = QueueReader(broker_url, "audit.events")
    with running(online.workers[0], name="scheduler relay"):
        audit.wait_for(
            lambda messages: [m for m in messages if m.data["session_id"] == session["id"]],
            what="the waiting session.booked reaching audit.events once the broker was back",
        )
        eventually(lambda: relay.pending() == 0, what="the outbox having nothing pending")

    [row] = outbox_rows()
    assert row.published_at is not None
    assert [m.properties.message_id for m in audit.messages] == [row.event_id], "published once"


def test_a_relay_running_while_the_broker_is_unreachable_keeps_the_event_and_stops_when_asked(
    broker_url, database_url, outbox_rows
):
    offline = scheduler(
        broker_url, database_url, publisher_factory=lambda: EventPublisher(CLOSED_PORT_URL, CLINIC_TOPOLOGY)
    )
    relay = offline.workers[0]
    FrontDesk(offline).book()

    with running(relay, name="offline relay"):
        FrontDesk(offline).book()  # a commit wakes the relay, which fails again and backs off
        eventually(lambda: relay.pending() == 2, what="both bookings waiting in the outbox")

    assert relay.pending() == 2
    assert all(row.published_at is None for row in outbox_rows())


def test_events_go_out_in_the_order_they_were_written(broker_url, database_url):
    runtime = scheduler(broker_url, database_url)
    relay = runtime.workers[0]
    desk = FrontDesk(runtime)
    audit = QueueReader(broker_url, "audit.events")

    first = desk.book()
    second = desk.book()
    desk.cancel(first["id"])
    third = desk.book()
    desk.cancel(third["id"])
    desk.cancel(second["id"])
    written = [
        ("session.booked", first["id"]),
        ("session.booked", second["id"]),
        ("session.cancelled", first["id"]),
        ("session.booked", third["id"]),
        ("session.cancelled", third["id"]),
        ("session.cancelled", second["id"]),
    ]

    with running(relay, name="scheduler relay"):
        audit.wait_for_count(len(written), what="the six events reaching audit.events")

    assert [(m.type, m.data["session_id"]) for m in audit.messages] == written


def test_a_booking_and_its_cancellation_go_out_in_order_while_the_relay_runs(broker_url, database_url):
    runtime = scheduler(broker_url, database_url)
    relay = runtime.workers[0]
    desk = FrontDesk(runtime)
    audit = QueueReader(broker_url, "audit.events")

    with running(relay, name="scheduler relay"):
        session = desk.book()
        desk.cancel(session["id"])
        audit.wait_for_count(2, what="session.booked and session.cancelled reaching audit.events")

    assert [(m.type, m.data["session_id"]) for m in audit.messages] == [
        ("session.booked", session["id"]),
        ("session.cancelled", session["id"]),
    ]
    assert [m.properties.message_id for m in audit.messages] == [m.document["event_id"] for m in audit.messages]


def test_a_refused_booking_writes_nothing_to_the_outbox(broker_url, database_url, outbox_rows):
    runtime = scheduler(broker_url, database_url)
    desk = FrontDesk(runtime)

    desk.book(chair_id="chair-2", starts_at=clinic_time(40, 10))
    refused = desk.book(chair_id="chair-2", starts_at=clinic_time(40, 10, 30), expect=409)

    assert refused["reason"] == "chair_unavailable"
    assert [row.routing_key for row in outbox_rows()] == ["session.booked"]
    assert runtime.workers[0].pending() == 1


def test_an_event_no_queue_is_bound_to_stays_in_the_outbox_with_its_error_and_the_rest_still_go_out(
    broker_url, database_url, outbox_rows
):
    # A topology mistake: only session.booked is bound, so session.cancelled is unroutable.
    partial = Topology(queues=(QueueSpec(NOTIFICATIONS_QUEUE.name, binds=(SESSION_BOOKED,)),))
    runtime = scheduler(broker_url, database_url, publisher_factory=lambda: EventPublisher(broker_url, partial))
    relay = runtime.workers[0]
    desk = FrontDesk(runtime)
    notifications = QueueReader(broker_url, "notifications.events")

    first = desk.book()
    desk.cancel(first["id"])
    second = desk.book()

    with running(relay, name="scheduler relay"):
        notifications.wait_for_count(2, what="both session.booked events reaching notifications.events")
        eventually(lambda: relay.pending() == 1, what="only the unroutable event staying pending")
        eventually(lambda: outbox_rows()[1].attempts >= 1, what="the unroutable attempt being recorded")

    assert [m.data["session_id"] for m in notifications.messages] == [first["id"], second["id"]]
    stuck = outbox_rows()[1]
    assert stuck.routing_key == "session.cancelled"
    assert stuck.published_at is None
    assert "no queue is bound for session.cancelled" in stuck.last_error

    # After the topology is fixed, the kept event goes out.
    fixed = scheduler(broker_url, database_url)
    audit = QueueReader(broker_url, "audit.events")
    with running(fixed.workers[0], name="fixed relay"):
        audit.wait_for(
            lambda messages: [m for m in messages if m.type == "session.cancelled"],
            what="the kept session.cancelled reaching audit.events after the fix",
        )
        eventually(lambda: relay.pending() == 0, what="the outbox having nothing pending")
    assert outbox_rows()[1].last_error is None


# --- the start-up replay, status and stuck, on_published ----------------------------------------------------------


class RecordingPublisher:
    """Stands in for the broker: keeps what it was given, or fails as an unreachable broker does."""

    def __init__(self, *, failing: bool = False):
        self.failing = failing
        self.published: list[str] = []

    def publish(self, message) -> None:
        if self.failing:
            raise PublishFailed(f"{message.routing_key} {message.event_id}") from ConnectionRefusedError()
        self.published.append(message.event_id)

    def close(self) -> None:
        pass


def service_database(database_url: str, broker_url: str, publisher, **kwargs):
    return open_service_database(
        service="scheduler",
        database_url=database_url,
        broker_url=broker_url,
        migrations=MIGRATIONS,
        tables=tables.messaging,
        publisher_factory=lambda: publisher,
        **kwargs,
    )


def write_events(engine, count: int) -> list[str]:
    events = [session_booked() for _ in range(count)]
    with engine.begin() as connection:
        OutboxWriter(connection, tables.messaging.outbox, "scheduler").add(events)
    return [event.event_id for event in events]


def test_on_the_in_memory_broker_a_relay_starts_by_publishing_again_every_row_still_in_the_outbox_in_order(
    database_url,
):
    first = RecordingPublisher()
    engine, relay = service_database(database_url, "memory://", first)
    before_the_crash = write_events(engine, 3)
    relay.publish_pending(first)
    assert first.published == before_the_crash and relay.pending() == 0
    # The process dies: the in-memory broker, and whatever it held, with it. Two more bookings were committed.
    after_the_crash = write_events(engine, 2)

    second = RecordingPublisher()
    _, restarted = service_database(database_url, "memory://", second)
    with running(restarted, name="restarted relay"):
        eventually(lambda: restarted.pending() == 0, what="the restarted relay publishing what was pending")
        more = write_events(engine, 1)
        restarted.notify()
        eventually(lambda: second.published[-1:] == more, what="a later event going out as usual")

    assert second.published == before_the_crash + after_the_crash + more, "all again, in order, then as usual"


def test_on_rabbitmq_a_relay_publishes_only_what_is_pending_since_the_broker_kept_the_rest(database_url, broker_url):
    first = RecordingPublisher()
    engine, relay = service_database(database_url, broker_url, first)
    write_events(engine, 2)
    relay.publish_pending(first)
    pending = write_events(engine, 1)

    second = RecordingPublisher()
    _, restarted = service_database(database_url, broker_url, second)
    with running(restarted, name="restarted relay"):
        eventually(lambda: restarted.pending() == 0, what="the pending event going out")

    assert second.published == pending


def test_on_published_is_told_the_type_of_every_event_the_broker_confirmed(database_url, broker_url):
    published_types: list[str] = []
    engine, relay = service_database(
        database_url, broker_url, RecordingPublisher(), on_published=published_types.append
    )
    write_events(engine, 2)

    relay.publish_pending(RecordingPublisher())
    relay.publish_pending(RecordingPublisher(failing=True))  # nothing left: nothing told

    assert published_types == ["session.booked", "session.booked"]


def test_the_status_tells_the_backlog_the_age_of_its_oldest_row_and_the_last_round(database_url, broker_url):
    engine, relay = service_database(database_url, broker_url, RecordingPublisher())
    assert relay.status() == {
        "pending": 0,
        "oldest_unsent_age_seconds": None,
        "last_round_at": None,
        "failing": False,
        "last_failure": None,
    }
    assert not relay.stuck(max_age=60)

    write_events(engine, 3)
    status = relay.status()

    assert status["pending"] == 3
    assert 0 <= status["oldest_unsent_age_seconds"] < 3600
    assert not relay.stuck(max_age=3600), "rows this young are not stuck, even before a first round"


def test_a_relay_that_cannot_publish_says_it_is_failing_and_why_and_becomes_stuck_once_its_oldest_row_is_old(
    database_url, broker_url
):
    publisher = RecordingPublisher(failing=True)
    engine, relay = service_database(database_url, broker_url, publisher)
    write_events(engine, 1)

    with running(relay, name="failing relay"):
        eventually(lambda: relay.status()["failing"], what="the relay saying it is failing")
        status = relay.status()
        assert status["pending"] == 1
        assert status["last_round_at"] is not None
        assert "ConnectionRefusedError" in status["last_failure"]
        eventually(lambda: relay.stuck(max_age=0.5), what="the relay becoming stuck as its row ages")
        publisher.failing = False  # the broker is back
        relay.notify()
        eventually(lambda: not relay.status()["failing"], what="the relay recovering", deadline=60)
        eventually(lambda: relay.status()["pending"] == 0, what="the row going out")

    assert not relay.stuck(max_age=0.5)
    assert relay.status()["last_failure"] is None
