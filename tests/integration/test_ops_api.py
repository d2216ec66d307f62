"""The ops page and its JSON twin (/api/ops/*) of the real scheduler app (services.scheduler.bootstrap) on the real
RabbitMQ, figures read through AMQP passive declarations and through the management plugin: the queues with a dead
letter counted, the services' readiness (fake transport and notifications answering /readyz over HTTP), the day's
business view with its alerts, dead letters listed, replayed to their own queue and discarded through the API and
audited, bad bodies refused field by field with nothing changed, the ops role's pages closed to the front desk and
clinicians, the service token accepted, the alerts as metrics, and the broker down (a TCP proxy taken down) shown
as unreachable while the page and the JSON still answer 200."""

import io
import json
import re
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from integration.helpers import (
    BrokerProxy,
    always_open_clinic,
    eventually,
    message_count,
    register_with_intake,
    running,
    session_booked,
    wait_until_ready,
)
from integration.management_plugin import MANAGEMENT_PASSWORD, MANAGEMENT_USER, ensure_management_plugin

from services.scheduler.adapters import tables
from services.scheduler.adapters.unit_of_work import SchedulerUnitOfWork
from services.scheduler.bootstrap import bootstrap
from services.scheduler.cli import run_command
from services.scheduler.handlers import record_ride_status
from services.scheduler.ops_setup import OpsSettings
from services.scheduler.web import FrontDeskSettings
from shared.contract import RIDE_AT_RISK, Event, new_event, to_json
from shared.messaging import CLINIC_TOPOLOGY, EventConsumer, EventPublisher, OutgoingMessage, PoisonMessage
from shared.messaging.topology import TRANSPORT_QUEUE
from shared.persistence.engine import create_database_engine
from shared.settings import Settings

pytestmark = pytest.mark.integration

TOKEN = "ops-api-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PASSWORD = "correct horse battery staple"
DLQ = "transport.events.dlq"
WORK_QUEUE = "transport.events"
CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
# 08:00 in the clinic (EST) on a Tuesday: "today" for the business view.
NOW = datetime(2027, 1, 5, 13, 0, tzinfo=UTC)
DEADLINE = 60.0


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Readiness:
    """Transport's or notifications' /readyz as a test sets it, served over HTTP on a port of its own."""

    def __init__(self, document: dict, status: int = 200):
        self.document, self.status = document, status
        readiness = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps(readiness.document).encode()
                self.send_response(readiness.status if self.path == "/readyz" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def ready_document(service: str, **figures) -> dict:
    return {
        "service": service,
        "status": "ready",
        "checks": {"database": {"ok": True}, "broker": {"ok": True}, "consumer": {"ok": True}, "outbox": {"ok": True}},
        "consumer": {
            "status": "consuming",
            "last_handled": {"type": "session.booked", "event_id": "e-1", "at": "2027-01-05T12:59:00+00:00"},
        },
        "outbox": {"pending": 0, "oldest_unsent_age_seconds": None},
        "figures": figures,
    }


@pytest.fixture
def peers():
    transport = Readiness(ready_document("transport", rides_at_risk=1))
    notifications = Readiness(ready_document("notifications", messages_failed=2))
    yield transport, notifications
    transport.close()
    notifications.close()


def build(broker_url: str, database_url: str, peers, *, management_url: str | None = None):
    settings = Settings(
        service="scheduler",
        broker_url=broker_url,
        database_url=database_url,
        port=0,
        service_token=TOKEN,
        scheduler_url="http://127.0.0.1:1",
    )
    for username, role in (
        ("ops.cy", "ops"),
        ("admin.al", "admin"),
        ("desk.ann", "front_desk"),
        ("dr.lee", "clinician"),
    ):
        argv = ["create-user", username, "--role", role, "--password-stdin"]
        assert run_command(argv, stdin=io.StringIO(PASSWORD), stdout=io.StringIO(), settings=settings) == 0
    transport, notifications = peers
    ops = OpsSettings(
        management_url=management_url,
        management_user=MANAGEMENT_USER,
        management_password=MANAGEMENT_PASSWORD,
        service_urls={"transport": transport.url, "notifications": notifications.url},
        sample_seconds=0.5,
    )
    runtime = bootstrap(
        settings,
        clinic=always_open_clinic(),
        clock=Clock(NOW),
        front_desk=FrontDeskSettings(secret_key="ops-api-secret"),
        messages_of=lambda _session_id: [],
        ops=ops,
    )
    runtime.workers = []  # the app alone: the queues are filled by the test's own consumer
    return runtime.app


@pytest.fixture
def scheduler(broker_url, tmp_path, peers):
    return build(broker_url, f"sqlite:///{tmp_path / 'scheduler.sqlite3'}", peers)


def sign_in(client, username: str) -> str:
    page = client.get("/sign-in")
    token = CSRF_INPUT.search(page.text).group(1)
    answer = client.post("/sign-in", data={"csrf_token": token, "username": username, "password": PASSWORD})
    assert answer.status_code == 302, answer.text
    return CSRF_INPUT.search(client.get("/").text).group(1)


class Refusing:
    def __call__(self, event: Event) -> None:
        raise PoisonMessage("no such session")


def dead_lettered(broker_url: str, count: int) -> list[Event]:
    """``count`` session.booked events refused by a transport consumer, now in its dead-letter queue."""
    consumer = EventConsumer(broker_url, CLINIC_TOPOLOGY, TRANSPORT_QUEUE, {"session.booked": Refusing()})
    with running(consumer, name="refusing consumer"):
        wait_until_ready(consumer)
        publisher = EventPublisher(broker_url, CLINIC_TOPOLOGY)
        events = [session_booked() for _ in range(count)]
        try:
            for event in events:
                publisher.publish(OutgoingMessage(event.event_id, event.type, to_json(event), event.correlation_id))
        finally:
            publisher.close()
        eventually(lambda: message_count(broker_url, DLQ) == count, what=f"{count} dead letters", deadline=DEADLINE)
    return events


def queue_of(document: dict, name: str) -> dict:
    [queue] = [q for q in document["queues"] if q["name"] == name]
    return queue


def audit_rows(database_url: str) -> list[tuple[str, str, str, str]]:
    engine = create_database_engine(database_url, schema="scheduler")
    uow = SchedulerUnitOfWork(engine, tables.messaging, "scheduler")
    with uow.read_only():
        entries = uow.audit.between(datetime(2000, 1, 1, tzinfo=UTC), datetime(2999, 1, 1, tzinfo=UTC), limit=100)
    engine.dispose()
    return sorted(
        (e.actor.name, e.action.value, e.subject_id or "", e.detail or "")
        for e in entries
        if e.action.value.startswith("dead_letter")
    )


def test_the_queues_json_counts_a_dead_letter_and_every_queue_of_the_topology_from_amqp(scheduler, broker_url):
    dead_lettered(broker_url, 1)

    document = eventually(
        lambda: (
            (d := scheduler.test_client().get("/api/ops/queues", headers=AUTH).get_json())
            and queue_of(d, DLQ)["ready"] == 1
            and d
        ),
        what="the dead letter counted",
        deadline=DEADLINE,
    )

    assert (document["source"], document["reachable"], document["error"]) == ("amqp", True, None)
    names = [q["name"] for q in document["queues"]]
    for spec in CLINIC_TOPOLOGY.queues:
        assert spec.name in names
    assert {"transport.events.dlq", "transport.events.retry", "audit.events"} <= set(names)
    transport = queue_of(document, WORK_QUEUE)
    assert (transport["kind"], transport["consumers"], transport["unacknowledged"]) == ("work", 0, None)
    assert queue_of(document, DLQ)["of_queue"] == WORK_QUEUE
    assert queue_of(document, DLQ)["depths"][-1]["ready"] == 1, "the latest sample of the chart"


def test_the_queues_json_reads_the_management_api_when_it_is_configured(broker_url, tmp_path, peers):
    scheduler = build(
        broker_url, f"sqlite:///{tmp_path / 's.sqlite3'}", peers, management_url=ensure_management_plugin()
    )
    dead_lettered(broker_url, 2)

    # The management API's statistics lag the broker by a few seconds.
    document = eventually(
        lambda: (
            (d := scheduler.test_client().get("/api/ops/queues", headers=AUTH).get_json())
            and queue_of(d, DLQ)["ready"] == 2
            and d
        ),
        what="the dead letters counted by the management API",
        deadline=DEADLINE,
    )

    assert (document["source"], document["reachable"]) == ("management", True)
    assert queue_of(document, WORK_QUEUE)["unacknowledged"] == 0, "the management API tells unacknowledged messages"
    assert queue_of(document, WORK_QUEUE)["consumers"] == 0
    page = scheduler.test_client()
    sign_in(page, "ops.cy")
    assert "the RabbitMQ management API" in page.get("/ops").text


def test_the_services_json_shows_each_service_ready_or_not_and_why(scheduler, peers):
    transport, notifications = peers
    transport.status = 503
    transport.document = {
        **ready_document("transport"),
        "status": "not_ready",
        "checks": {"database": {"ok": True}, "broker": {"ok": False, "detail": "unreachable"}},
        "outbox": {"pending": 4, "oldest_unsent_age_seconds": 900.0},
    }

    services = {s["name"]: s for s in scheduler.test_client().get("/api/ops/services", headers=AUTH).json["services"]}

    assert list(services) == ["scheduler", "transport", "notifications"]
    assert (services["transport"]["ready"], services["transport"]["problems"]) == (False, ["broker: unreachable"])
    assert (services["transport"]["outbox_pending"], services["transport"]["oldest_unsent_age_seconds"]) == (4, 900.0)
    assert services["notifications"]["ready"] is True
    assert services["notifications"]["last_handled"] == {
        "type": "session.booked",
        "event_id": "e-1",
        "at": "2027-01-05T12:59:00+00:00",
    }
    assert services["scheduler"]["reachable"] is True, "the scheduler's own readiness, read in-process"
    overview = scheduler.test_client().get("/api/ops/overview", headers=AUTH).json
    kinds = {(a["kind"], a["subject"]) for a in overview["alerts"]}
    assert {("service_not_ready", "transport"), ("outbox_age", "transport")} <= kinds


def test_a_service_that_does_not_answer_is_shown_so(broker_url, tmp_path, peers):
    transport, _ = peers
    transport.close()

    scheduler = build(broker_url, f"sqlite:///{tmp_path / 's.sqlite3'}", peers)
    services = {s["name"]: s for s in scheduler.test_client().get("/api/ops/services", headers=AUTH).json["services"]}

    assert (services["transport"]["reachable"], services["transport"]["ready"]) == (False, False)
    assert services["transport"]["error"] == "connection refused or lost"


def test_the_overview_gives_the_day_in_business_terms_with_its_alerts(broker_url, database_url, peers):
    scheduler = build(broker_url, database_url, peers)
    client = scheduler.test_client()
    patient = register_with_intake(client, AUTH)
    ride = {"mode": "escort", "escort_name": "Sam Escort", "escort_phone": "+14155550199"}
    booked = [
        client.post(
            "/api/sessions",
            json={
                "patient_id": patient,
                "treatment_type": "iv_infusion",
                "starts_at": f"2027-01-05T{hour}:00:00-05:00",
                "ride_home": ride,
            },
            headers=AUTH,
        )
        for hour in ("10", "14")
    ]
    assert [b.status_code for b in booked] == [201, 201], [b.text for b in booked]
    at_risk = booked[0].json["id"]
    event = new_event(
        RIDE_AT_RISK,
        {"ride_id": "ride-1", "session_id": at_risk, "pickup_at": NOW, "mode": "escort", "status": "requested"},
        correlation_id=at_risk,
    )
    engine = create_database_engine(database_url, schema="scheduler")
    record_ride_status(event, uow=SchedulerUnitOfWork(engine, tables.messaging, "scheduler"))
    engine.dispose()

    overview = client.get("/api/ops/overview", headers=AUTH).json

    assert overview["business"] == {
        "day": "2027-01-05",
        "sessions_today": 2,
        "without_confirmed_ride": 2,
        "rides_at_risk": [{"session_id": at_risk, "starts_at": "2027-01-05T10:00:00-05:00"}],
        "messages_failed": 2,
    }
    assert {"kind": "ride_at_risk", "subject": at_risk} in [
        {"kind": a["kind"], "subject": a["subject"]} for a in overview["alerts"]
    ]
    assert overview["thresholds"] == {"queue_depth": 100, "outbox_age_seconds": 300.0}
    assert overview["broker"] == {"source": "amqp", "reachable": True, "error": None}


def test_dead_letters_are_listed_replayed_and_discarded_through_the_api_and_audited(broker_url, database_url, peers):
    scheduler = build(broker_url, database_url, peers)
    events = dead_lettered(broker_url, 3)
    client = scheduler.test_client()

    listed = client.get(f"/api/ops/dead-letters?queue={DLQ}", headers=AUTH)
    assert listed.status_code == 200
    letters = listed.json["dead_letters"]
    assert [d["event_id"] for d in letters] == [e.event_id for e in events]
    assert [d["session_id"] for d in letters] == [e.correlation_id for e in events]
    assert {(d["type"], d["reason"], d["times_dead_lettered"]) for d in letters} == {
        ("session.booked", "refused: no such session", 1)
    }

    # The notifications queue got the events when they were published; a replay must not send them there again.
    notifications_before = message_count(broker_url, "notifications.events")
    replayed = client.post(
        "/api/ops/dead-letters/replay",
        json={"queue": DLQ, "event_ids": [events[0].event_id, "no-such-event"]},
        headers=AUTH,
    )
    assert replayed.status_code == 200
    assert replayed.json == {"queue": DLQ, "done": [events[0].event_id], "not_found": ["no-such-event"]}
    eventually(lambda: message_count(broker_url, WORK_QUEUE) == 1, what="the replayed letter in its own queue")
    assert message_count(broker_url, "notifications.events") == notifications_before, "not through the exchange"

    discarded = client.post(
        "/api/ops/dead-letters/discard", json={"queue": DLQ, "all": True, "reason": "test bookings"}, headers=AUTH
    )
    assert discarded.status_code == 200
    assert sorted(discarded.json["done"]) == sorted(e.event_id for e in events[1:])
    eventually(lambda: message_count(broker_url, DLQ) == 0, what="the dead-letter queue empty")

    assert audit_rows(database_url) == sorted(
        [
            ("service", "dead_letter_replayed", events[0].event_id, f"from {DLQ}"),
            *[("service", "dead_letter_discarded", e.event_id, f"from {DLQ}: test bookings") for e in events[1:]],
        ]
    )


def test_an_ops_member_replays_through_the_api_under_their_own_name(scheduler, broker_url, tmp_path):
    [event] = dead_lettered(broker_url, 1)
    client = scheduler.test_client()
    token = sign_in(client, "ops.cy")

    without_csrf = client.post("/api/ops/dead-letters/replay", json={"queue": DLQ, "all": True})
    replayed = client.post(
        "/api/ops/dead-letters/replay", json={"queue": DLQ, "all": True}, headers={"X-CSRFToken": token}
    )

    assert without_csrf.status_code == 400
    assert replayed.status_code == 200 and replayed.json["done"] == [event.event_id]
    assert audit_rows(f"sqlite:///{tmp_path / 'scheduler.sqlite3'}") == [
        ("ops.cy", "dead_letter_replayed", event.event_id, f"from {DLQ}")
    ]


@pytest.mark.parametrize(
    ("path", "body", "errors"),
    [
        ("replay", {"queue": DLQ}, {"event_ids": ["Give the event ids to act on, or all: true."]}),
        (
            "replay",
            {"queue": DLQ, "all": True, "event_ids": ["a"]},
            {"all": ["Give either event_ids or all: true, not both."]},
        ),
        ("replay", {"queue": "transport.events", "all": True}, {"queue": None}),
        ("replay", {"queue": DLQ, "event_ids": []}, {"event_ids": ["Length must be between 1 and 500."]}),
        ("replay", {"queue": DLQ, "event_ids": ["bad id!"]}, {"event_ids": None}),
        ("replay", {"queue": DLQ, "all": False}, {"all": ["Leave `all` out, or give it as true."]}),
        ("replay", {"queue": DLQ, "all": "yes"}, {"all": ["Not a valid boolean."]}),
        ("replay", {"queue": DLQ, "all": True, "extra": 1}, {"extra": ["Unknown field."]}),
        ("discard", {"queue": DLQ, "all": True}, {"reason": ["Missing data for required field."]}),
        ("discard", {"queue": DLQ, "all": True, "reason": "   "}, {"reason": ["Write something other than spaces."]}),
        ("discard", {"queue": DLQ, "all": True, "reason": "x" * 151}, {"reason": ["Use at most 150 characters."]}),
    ],
)
def test_a_bad_body_is_refused_field_by_field_and_changes_nothing(scheduler, broker_url, path, body, errors):
    dead_lettered(broker_url, 1)

    answer = scheduler.test_client().post(f"/api/ops/dead-letters/{path}", json=body, headers=AUTH)

    assert answer.status_code == 422
    assert sorted(answer.json["errors"]) == sorted(errors)
    for field, messages in errors.items():
        if messages is not None:
            assert answer.json["errors"][field] == messages
    assert message_count(broker_url, DLQ) == 1
    assert message_count(broker_url, WORK_QUEUE) == 0


def test_a_dead_letter_listing_names_a_dead_letter_queue(scheduler):
    answer = scheduler.test_client().get("/api/ops/dead-letters?queue=transport.events", headers=AUTH)

    assert answer.status_code == 422 and list(answer.json["errors"]) == ["queue"]


@pytest.mark.parametrize("username", ["desk.ann", "dr.lee"])
def test_the_front_desk_and_clinicians_are_refused_the_ops_page_and_its_json(scheduler, username):
    client = scheduler.test_client()
    token = sign_in(client, username)

    assert client.get("/ops").status_code == 403
    assert client.get(f"/ops/dead-letters?queue={DLQ}").status_code == 403
    for path in ("queues", "services", "overview", f"dead-letters?queue={DLQ}"):
        assert client.get(f"/api/ops/{path}").status_code == 403, path
    replay = client.post(
        "/api/ops/dead-letters/replay", json={"queue": DLQ, "all": True}, headers={"X-CSRFToken": token}
    )
    assert replay.status_code == 403
    assert 'href="/ops"' not in client.get("/").text, "no Ops link in the header"


@pytest.mark.parametrize("username", ["ops.cy", "admin.al"])
def test_ops_and_admins_see_the_ops_page_and_its_link(scheduler, username):
    client = scheduler.test_client()
    sign_in(client, username)

    page = client.get("/ops")

    assert page.status_code == 200
    assert 'href="/ops"' in page.text
    assert "Queue figures from the broker itself (AMQP passive declarations" in page.text
    assert client.get("/ops/live").status_code == 200
    assert client.get("/api/ops/overview").status_code == 200


def test_the_api_wants_a_token_or_a_staff_session(scheduler):
    assert scheduler.test_client().get("/api/ops/queues").status_code == 401
    assert scheduler.test_client().get("/api/ops/queues", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_the_alerts_are_metrics(scheduler, broker_url):
    dead_lettered(broker_url, 1)
    client = scheduler.test_client()

    metrics = eventually(
        lambda: (text := client.get("/metrics").text) and 'subject="transport.events.dlq"' in text and text,
        what="the dead-letter alert as a metric",
        deadline=DEADLINE,
    )

    assert 'clinic_ops_alert{kind="dead_letters",severity="critical",subject="transport.events.dlq"} 1.0' in metrics
    assert 'clinic_ops_alerts{kind="dead_letters"} 1.0' in metrics
    assert 'clinic_ops_alerts{kind="queue_depth"} 0.0' in metrics


def test_a_broker_down_shows_as_unreachable_and_the_page_and_json_still_answer(vhost, tmp_path, peers):
    proxy = BrokerProxy()
    try:
        scheduler = build(proxy.url(vhost.name), f"sqlite:///{tmp_path / 's.sqlite3'}", peers)
        client = scheduler.test_client()
        assert client.get("/api/ops/queues", headers=AUTH).json["reachable"] is True
        proxy.down()

        queues = eventually(
            lambda: (answer := client.get("/api/ops/queues", headers=AUTH)).json["reachable"] is False and answer,
            what="the broker seen unreachable",
            deadline=DEADLINE,
        )
        overview = client.get("/api/ops/overview", headers=AUTH)
        replay = client.post("/api/ops/dead-letters/replay", json={"queue": DLQ, "all": True}, headers=AUTH)
        listing = client.get(f"/api/ops/dead-letters?queue={DLQ}", headers=AUTH)
        sign_in(client, "ops.cy")
        page = client.get("/ops")
        letters_page = client.get(f"/ops/dead-letters?queue={DLQ}")
    finally:
        proxy.close()

    assert queues.status_code == 200 and queues.json["error"]
    assert overview.status_code == 200
    assert [a["kind"] for a in overview.json["alerts"] if a["severity"] == "critical"][0] == "broker_unreachable"
    assert (replay.status_code, replay.headers["Retry-After"]) == (503, "5")
    assert listing.status_code == 503
    assert page.status_code == 200 and "The broker is unreachable" in page.text
    assert letters_page.status_code == 200 and "The broker did not answer" in letters_page.text


def test_the_page_discards_only_after_the_confirmation_with_a_reason_and_audits_the_staff_member(
    scheduler, broker_url, tmp_path
):
    events = dead_lettered(broker_url, 2)
    client = scheduler.test_client()
    token = sign_in(client, "admin.al")
    chosen = {"csrf_token": token, "queue": DLQ, "event_id": [events[1].event_id]}

    listed = client.get(f"/ops/dead-letters?queue={DLQ}")
    asked = client.post("/ops/dead-letters/confirm", data={**chosen, "action": "discard"})
    without_reason = client.post("/ops/dead-letters/discard", data=chosen)
    assert message_count(broker_url, DLQ) == 2, "nothing changed before a confirmed discard with its reason"
    discarded = client.post("/ops/dead-letters/discard", data={**chosen, "reason": "A test booking"})

    assert listed.status_code == 200 and events[0].event_id in listed.text and events[1].event_id in listed.text
    assert asked.status_code == 200 and "Discard 1 dead letter of transport.events.dlq?" in asked.text
    assert without_reason.status_code == 422 and "Say why they are discarded" in without_reason.text
    assert discarded.status_code == 303 and discarded.headers["Location"].endswith(f"/ops/dead-letters?queue={DLQ}")
    after = client.get(discarded.headers["Location"])
    assert "Discarded 1 dead letter." in after.text
    assert events[0].event_id in after.text and events[1].event_id not in after.text
    eventually(lambda: message_count(broker_url, DLQ) == 1, what="one dead letter left")
    assert audit_rows(f"sqlite:///{tmp_path / 'scheduler.sqlite3'}") == [
        ("admin.al", "dead_letter_discarded", events[1].event_id, f"from {DLQ}: A test booking")
    ]


def test_a_confirmation_without_a_choice_sends_back_to_the_list(scheduler, broker_url):
    dead_lettered(broker_url, 1)
    client = scheduler.test_client()
    token = sign_in(client, "ops.cy")

    answer = client.post("/ops/dead-letters/confirm", data={"csrf_token": token, "queue": DLQ, "action": "replay"})

    assert answer.status_code == 303
    assert "Choose the dead letters first" in client.get(answer.headers["Location"]).text
    assert message_count(broker_url, DLQ) == 1


@pytest.mark.parametrize(
    "form",
    [
        {"queue": "transport.events", "all": "yes"},
        {"queue": DLQ, "event_id": ["not an id!"]},
    ],
)
def test_a_crafted_page_form_is_refused_and_changes_nothing(scheduler, broker_url, form):
    dead_lettered(broker_url, 1)
    client = scheduler.test_client()
    token = sign_in(client, "ops.cy")

    answer = client.post("/ops/dead-letters/replay", data={"csrf_token": token, **form})

    assert answer.status_code in (404, 422)
    assert message_count(broker_url, DLQ) == 1


def test_the_front_desk_is_refused_the_page_actions(scheduler, broker_url):
    dead_lettered(broker_url, 1)
    client = scheduler.test_client()
    token = sign_in(client, "desk.ann")

    answer = client.post("/ops/dead-letters/replay", data={"csrf_token": token, "queue": DLQ, "all": "yes"})

    assert answer.status_code == 403
    assert message_count(broker_url, DLQ) == 1
