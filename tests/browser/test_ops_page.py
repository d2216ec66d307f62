"""The ops page in a real browser, on the real RabbitMQ: an ops member signs in, follows the header's Ops link, sees
the dead letter counted and alerted, the queues' depth charts and the services; opens the dead-letter queue,
chooses the letter, confirms the replay on the confirmation step, and sees it gone, the alert with it; the page then
shows a queue's new depth by its own refresh. axe-core
finds no serious or critical violation on the page, the list or the confirmation; the screenshot of the page is
kept in docs/screenshots/ops.png for the README."""

import io
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from integration.helpers import drain, eventually, message_count, running, session_booked, wait_until_ready
from integration.test_ops_api import NOW, Clock, Readiness, dead_lettered, ready_document
from playwright.sync_api import expect

from services.scheduler.adapters import tables
from services.scheduler.adapters.clinic_config import load_clinic
from services.scheduler.adapters.unit_of_work import SchedulerUnitOfWork
from services.scheduler.bootstrap import bootstrap
from services.scheduler.cli import run_command
from services.scheduler.handlers import record_ride_status
from services.scheduler.ops_setup import OpsSettings
from services.scheduler.web import FrontDeskSettings
from shared.contract import RIDE_AT_RISK, RIDE_CONFIRMED, new_event, to_json
from shared.messaging import CLINIC_TOPOLOGY, EventConsumer, EventPublisher, OutgoingMessage
from shared.messaging.topology import NOTIFICATIONS_QUEUE, TRANSPORT_QUEUE
from shared.persistence.engine import create_database_engine
from shared.settings import Settings

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"
TOKEN = "ops-browser-token"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DLQ = "transport.events.dlq"


@pytest.fixture
def clinic(broker_url, tmp_path, monkeypatch):
    monkeypatch.delenv("CLINIC_CONFIG", raising=False)
    [letter] = dead_lettered(broker_url, 1)
    drain(broker_url, "notifications.events")  # the booking notifications got too: not what this test is about
    transport = Readiness(ready_document("transport", rides_at_risk=0))
    notifications = Readiness(ready_document("notifications", messages_failed=0))
    database_url = f"sqlite:///{tmp_path / 'scheduler.sqlite3'}"
    settings = Settings(
        service="scheduler",
        broker_url=broker_url,
        database_url=database_url,
        port=0,
        service_token=TOKEN,
        scheduler_url="http://127.0.0.1:1",
    )
    argv = ["create-user", "ops.cy", "--role", "ops", "--password-stdin"]
    assert run_command(argv, stdin=io.StringIO(PASSWORD), stdout=io.StringIO(), settings=settings) == 0
    clock = Clock(NOW - timedelta(days=1))  # the bookings are made the day before
    runtime = bootstrap(
        settings,
        clinic=load_clinic(),
        clock=clock,
        front_desk=FrontDeskSettings(secret_key="ops-browser-secret"),
        messages_of=lambda _session_id: [],
        ops=OpsSettings(
            service_urls={"transport": transport.url, "notifications": notifications.url}, sample_seconds=0.5
        ),
    )
    # The scheduler as it runs (its relay, consumer and queue sampler); transport's and notifications' stand-ins
    # consume their queues, so that the dead letter and the ride at risk are the only alerts.
    consumers = [
        EventConsumer(broker_url, CLINIC_TOPOLOGY, queue, {"session.booked": lambda _event: None})
        for queue in (TRANSPORT_QUEUE, NOTIFICATIONS_QUEUE)
    ]
    with running(consumers[0], name="transport stand-in"), running(consumers[1], name="notifications stand-in"):
        for consumer in consumers:
            wait_until_ready(consumer)
        runtime.start()
        url = f"http://127.0.0.1:{runtime.port}"
        book_the_day(url, database_url)
        clock.now = NOW
        # Some traffic while the queues are sampled: the audit copy of every event grows, step by step.
        for burst in range(3):
            eventually(
                lambda count=4 * (burst + 1): len(_queue(url, DLQ)["depths"]) >= count,
                what="the queues sampled",
                deadline=60,
            )
            publish(broker_url, 2)
        eventually(
            lambda: len(_queue(url, DLQ)["depths"]) >= 16 and all(q["consumers"] for q in _work_queues(url)),
            what="a few samples for the charts and every consumer connected",
            deadline=60,
        )
        yield url, letter, broker_url
        runtime.stop()
    transport.close()
    notifications.close()


def book_the_day(url: str, database_url: str) -> None:
    """Three sessions today, through the API: one ride confirmed, one at risk, one not reported yet."""
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {TOKEN}"
    intake = {"completed_at": "2026-12-01T10:00:00-05:00", "recorded_by": "Dr. Patel"}
    ride = {"mode": "escort", "escort_name": "Sam Escort", "escort_phone": "+14155550199"}
    sessions = []
    for hh_mm, phone in (("09:00", "+14155550101"), ("11:00", "+14155550102"), ("13:00", "+14155550103")):
        patient = api.post(f"{url}/api/patients", json={"name": "Pat Doe", "phone": phone}, timeout=10).json()
        assert api.post(f"{url}/api/patients/{patient['id']}/intake", json=intake, timeout=10).status_code == 201
        body = {
            "patient_id": patient["id"],
            "treatment_type": "iv_infusion",
            "starts_at": f"2027-01-05T{hh_mm}:00-05:00",
            "ride_home": ride,
        }
        answer = api.post(f"{url}/api/sessions", json=body, timeout=10)
        assert answer.status_code == 201, answer.text
        sessions.append(answer.json()["id"])
    engine = create_database_engine(database_url, schema="scheduler")
    for session_id, event_type in ((sessions[0], RIDE_CONFIRMED), (sessions[1], RIDE_AT_RISK)):
        data = {"ride_id": f"ride-{session_id}", "session_id": session_id, "pickup_at": NOW, "mode": "escort"}
        event = new_event(event_type, {**data, "status": "requested"}, correlation_id=session_id)
        record_ride_status(event, uow=SchedulerUnitOfWork(engine, tables.messaging, "scheduler"))
    engine.dispose()


def publish(broker_url: str, count: int) -> None:
    publisher = EventPublisher(broker_url, CLINIC_TOPOLOGY)
    try:
        for event in (session_booked() for _ in range(count)):
            publisher.publish(OutgoingMessage(event.event_id, event.type, to_json(event), event.correlation_id))
    finally:
        publisher.close()


def _queues(url: str) -> list[dict]:
    answer = requests.get(f"{url}/api/ops/queues", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    return answer.json()["queues"]


def _queue(url: str, name: str) -> dict:
    return next(q for q in _queues(url) if q["name"] == name)


def _work_queues(url: str) -> list[dict]:
    return [q for q in _queues(url) if q["kind"] == "work" and q["name"] != "audit.events"]


def test_an_ops_member_sees_a_dead_letter_and_replays_it_after_confirming(
    clinic, tablet, tmp_path, accessibility_problems
):
    url, letter, broker_url = clinic
    tablet.goto(url + "/sign-in")
    tablet.get_by_label("Username").fill("ops.cy")
    tablet.get_by_label("Password").fill(PASSWORD)
    tablet.get_by_role("button", name="Sign in").click()
    tablet.wait_for_load_state()
    tablet.get_by_role("link", name="Ops", exact=True).click()
    tablet.wait_for_load_state()

    assert tablet.get_by_role("heading", level=1).inner_text() == "Ops"
    alerts = tablet.locator("ul.alerts")
    expect(alerts).to_contain_text(f"1 dead letter in {DLQ}")
    expect(alerts).to_contain_text("The ride home of the session at Tue 05 Jan 11:00 is at risk.")
    assert alerts.locator("li").count() == 2, alerts.inner_text()
    today = tablet.get_by_role("region", name="Today")
    assert today.locator("dd").all_inner_texts() == ["3", "2", "1", "0"], "sessions, no ride yet, at risk, failed"
    queues = tablet.get_by_role("region", name="Queues")
    dead_letters_row = queues.get_by_role("row").filter(has_text=DLQ)
    assert dead_letters_row.get_by_role("cell").first.inner_text() == "1", "ready"
    assert tablet.locator("svg.sparkline").count() >= 4, "a depth chart per queue"
    expect(tablet.get_by_text("Queue figures from the broker itself")).to_be_visible()
    services = tablet.get_by_role("region", name="Services")
    assert services.get_by_text("Ready", exact=True).count() >= 2, "transport and notifications ready"
    assert accessibility_problems(tablet) == [], "the ops page"
    tablet.screenshot(path=tmp_path / "ops.png", full_page=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tmp_path / "ops.png", SCREENSHOTS / "ops.png")

    dead_letters_row.get_by_role("link", name="Dead letters: look, replay or discard").click()
    tablet.wait_for_load_state()
    assert tablet.get_by_role("heading", level=1).inner_text() == f"Dead letters of {DLQ}"
    row = tablet.get_by_role("row").filter(has_text=letter.event_id)
    assert "session.booked" in row.inner_text() and "refused: no such session" in row.inner_text()
    assert accessibility_problems(tablet) == [], "the dead letters"
    row.get_by_role("checkbox").check()
    tablet.screenshot(path=tmp_path / "ops-dead-letters.png", full_page=True)
    shutil.copyfile(tmp_path / "ops-dead-letters.png", SCREENSHOTS / "ops-dead-letters.png")
    tablet.get_by_role("button", name="Replay selected").click()
    tablet.wait_for_load_state()

    assert tablet.get_by_role("heading", level=1).inner_text() == f"Replay 1 dead letter of {DLQ}?"
    assert message_count(broker_url, DLQ) == 1, "nothing done before the confirmation"
    assert accessibility_problems(tablet) == [], "the confirmation"
    tablet.screenshot(path=tmp_path / "ops-confirm.png", full_page=True)
    tablet.get_by_role("button", name="Yes, replay 1 dead letter").focus()
    # A key press, unlike a click, does not wait for the navigation it starts: wait for it explicitly.
    with tablet.expect_navigation():
        tablet.keyboard.press("Enter")

    assert tablet.get_by_role("status").inner_text() == "Replayed 1 dead letter to transport.events."
    expect(tablet.get_by_text(f"No dead letters in {DLQ}.")).to_be_visible()
    eventually(lambda: message_count(broker_url, DLQ) == 0, what="the dead-letter queue empty")
    tablet.get_by_role("link", name="Ops", exact=True).first.click()
    tablet.wait_for_load_state()
    expect(tablet.locator("#ops")).not_to_contain_text("dead letter in")
    assert tablet.locator("ul.alerts li").count() == 1, "the ride at risk alone"

    audit_copies = tablet.get_by_role("region", name="Queues").get_by_role("row").filter(has_text="audit.events")
    ready = audit_copies.get_by_role("cell").first
    before = int(ready.inner_text())
    publish(broker_url, 2)
    # The page's own refresh (htmx, every few seconds) shows the new depth, without a reload.
    expect(ready).to_have_text(str(before + 2), timeout=60_000)
    assert tablet.complaints == [], "nothing the Content-Security-Policy refuses"
