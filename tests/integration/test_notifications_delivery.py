"""The notifications service on RabbitMQ and on SQLite and PostgreSQL, with real protocol peers: an SMTP server on
loopback (aiosmtpd, started by the test) and the SMS gateway simulator over HTTP; the scheduler and transport stand in
as fakes (their own tiers test them), and a clock the test moves. One message per event under redelivery, reminders
sent once after a restart, a reschedule and a cancellation moving and cancelling them, and a number the gateway
refuses falling back to e-mail."""

import email
import email.policy
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
import requests
from aiosmtpd.controller import Controller
from integration.helpers import eventually, message_count, publish_raw
from unit.fakes_notifications import ANN, FakeDirectory, FakeEscortLinks, a_session

from services.notifications.adapters.email_smtp import SmtpChannel
from services.notifications.adapters.sms_gateway import SmsGatewayChannel
from services.notifications.bootstrap import bootstrap
from services.notifications.settings import NotificationSettings
from shared.contract import CATALOGUE, Event, new_event, to_json
from shared.messaging import RetryPolicy
from shared.settings import Settings
from simulators.sms_gateway import start_simulator

pytestmark = pytest.mark.integration

TOKEN = "notifications-peers-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SMS_TOKEN = "notifications-peers-sms-token"
SENDER = "Riverside Ketamine Clinic <no-reply@clinic.example>"


class Inbox:
    """An aiosmtpd handler that keeps every e-mail it takes."""

    def __init__(self) -> None:
        self.received: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append(email.message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


class LoopbackController(Controller):
    """aiosmtpd's controller on a port the system picks, read back before its own first connection."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class Clock:
    """The time the test sets, or the real time while it sets none."""

    now: datetime | None = None

    def __call__(self) -> datetime:
        return self.now or datetime.now(UTC)


@contextmanager
def smtp_server():
    inbox = Inbox()
    controller = LoopbackController(inbox, hostname="127.0.0.1", port=0)
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


@contextmanager
def sms_gateway():
    simulator = start_simulator(token=SMS_TOKEN)
    try:
        yield simulator
    finally:
        simulator.stop()


def texts(simulator) -> list[dict]:
    return requests.get(f"{simulator.url}/_simulator/messages", timeout=5).json()["messages"]


def set_faults(simulator, **faults) -> None:
    requests.post(f"{simulator.url}/_simulator/faults", json=faults, timeout=5).raise_for_status()


@dataclass
class Peers:
    simulator: object
    smtp_port: int
    directory: FakeDirectory
    links: FakeEscortLinks
    clock: Clock


def notifications_service(broker_url: str, database_url: str, peers: Peers, **settings):
    """The service, not yet started, on the real broker and database, with the real channels and templates."""
    return bootstrap(
        Settings(
            service="notifications",
            broker_url=broker_url,
            database_url=database_url,
            port=0,
            service_token=TOKEN,
            scheduler_url="http://127.0.0.1:1",
        ),
        notifications=NotificationSettings(**{"grace": NotificationSettings.grace, "quiet_hours": None, **settings}),
        channels={
            "sms": SmsGatewayChannel(peers.simulator.url, SMS_TOKEN, backoff=0.01),
            "email": SmtpChannel(f"smtp://127.0.0.1:{peers.smtp_port}", SENDER),
        },
        directory=peers.directory,
        links=peers.links,
        clock=peers.clock,
        retry=RetryPolicy(attempts=2, initial_delay=0.05, max_delay=0.1, delays=(0.5,), window=60),
        delivery_poll_interval=0.1,
    )


def consuming(runtime) -> str:
    base = f"http://127.0.0.1:{runtime.port}"
    eventually(lambda: requests.get(f"{base}/healthz", timeout=5).json()["consuming"], what="notifications consuming")
    return base


def messages_of(base: str, session_id: str) -> list[dict]:
    answer = requests.get(f"{base}/api/messages", params={"session_id": session_id}, headers=AUTH, timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.json()["messages"]


# --- the tests ----------------------------------------------------------------------------------------------------

PHONE, ADDRESS = "+14155550142", "philippa.quorndon@patients.example"
PHILIPPA = replace(ANN, name="Philippa Quorndon", phone=PHONE, email=ADDRESS)


@pytest.fixture
def peers():
    with smtp_server() as (inbox, port), sms_gateway() as simulator:
        clock = Clock(datetime(2026, 12, 1, 15, 0, tzinfo=UTC))
        session_id = str(uuid.uuid4())
        start = datetime(2026, 12, 10, 15, 0, tzinfo=UTC)  # 10:00 in New York
        directory = FakeDirectory(PHILIPPA, sessions=(replace(a_session(starts_at=start), session_id=session_id),))
        yield Peers(simulator, port, directory, FakeEscortLinks(), clock), inbox


def session_id_of(peers: Peers) -> str:
    [session_id] = peers.directory.sessions
    return session_id


def publish(broker_url: str, event_type: str, peers: Peers, **data) -> Event:
    session_id = session_id_of(peers)
    body = {"session_id": session_id, "patient_id": "patient-1", **data}
    event = new_event(CATALOGUE[event_type], body, correlation_id=session_id).stamped_by("scheduler")
    publish_raw(broker_url, to_json(event), routing_key=event_type, message_id=event.event_id)
    return event


def booking(peers: Peers) -> dict:
    session = peers.directory.sessions[session_id_of(peers)]
    return {
        "treatment_type": "iv_infusion",
        "starts_at": session.starts_at,
        "treatment_ends_at": session.treatment_ends_at,
        "recovery_ends_at": session.recovery_ends_at,
        "chair_id": "chair-1",
        "ride_home_mode": "escort",
    }


def the_session_moves(peers: Peers, to: datetime) -> dict:
    session_id = session_id_of(peers)
    before = peers.directory.sessions[session_id]
    after = replace(
        before, starts_at=to, treatment_ends_at=to + timedelta(minutes=45), recovery_ends_at=to + timedelta(minutes=90)
    )
    peers.directory.sessions[session_id] = after
    return {
        "previous_starts_at": before.starts_at,
        "previous_recovery_ends_at": before.recovery_ends_at,
        **{k: v for k, v in booking(peers).items() if k != "treatment_type"},
    }


def settled(base: str, session_id: str, kind: str, count: int = 1):
    """The session's messages once ``count`` of that kind are sent or stored."""
    messages = messages_of(base, session_id)
    done = [m for m in messages if m["kind"] == kind and m["status"] in ("sent", "stored", "failed")]
    return messages if len(done) >= count else None


def test_the_same_booking_published_twice_gives_one_text_with_the_clinics_wording(broker_url, database_url, peers):
    peers, _ = peers
    runtime = notifications_service(broker_url, database_url, peers, grace=timedelta(0))
    runtime.start()
    try:
        base = consuming(runtime)
        event = new_event(
            CATALOGUE["session.booked"],
            {"session_id": session_id_of(peers), "patient_id": "patient-1", **booking(peers)},
            correlation_id=session_id_of(peers),
        ).stamped_by("scheduler")
        for _ in range(2):  # a redelivery: the same event, the same event_id
            publish_raw(broker_url, to_json(event), routing_key="session.booked", message_id=event.event_id)
        messages = eventually(
            lambda: settled(base, session_id_of(peers), "preparation_instructions"), what="the instructions"
        )
        time_for_a_second = eventually(lambda: message_count(broker_url, "notifications.events") == 0, what="drained")
    finally:
        runtime.stop()

    [instructions] = [m for m in messages if m["kind"] == "preparation_instructions"]
    assert time_for_a_second
    assert (instructions["status"], instructions["channel"], instructions["recipient"]) == ("sent", "sms", "patient")
    assert instructions["due_at"].endswith("-05:00"), "times in the clinic's offset"
    [text] = texts(peers.simulator)
    assert (text["to"], text["idempotency_key"], text["body"]) == (PHONE, instructions["id"], instructions["body"])
    assert "Philippa" in text["body"]
    assert sorted(m["kind"] for m in messages) == ["preparation_instructions", "reminder", "reminder"]
    assert message_count(broker_url, "notifications.events.dlq") == 0


def test_reminders_due_while_the_service_was_down_are_sent_once_after_it_starts(broker_url, database_url, peers):
    peers, _ = peers
    session_id = session_id_of(peers)
    first = notifications_service(broker_url, database_url, peers, grace=timedelta(0))
    first.start()
    try:
        base = consuming(first)
        publish(broker_url, "session.booked", peers, **booking(peers))
        eventually(lambda: settled(base, session_id, "preparation_instructions"), what="the instructions")
    finally:
        first.stop()
    start = peers.directory.sessions[session_id].starts_at
    peers.clock.now = start - timedelta(hours=47)  # the 48 h reminder fell due while nothing ran

    second = notifications_service(broker_url, database_url, peers, grace=timedelta(0))
    second.start()
    try:
        base = consuming(second)
        messages = eventually(lambda: settled(base, session_id, "reminder"), what="the 48 h reminder after the restart")
        time.sleep(0.5)  # several looks of the worker: none sends it again
        messages = messages_of(base, session_id)
    finally:
        second.stop()

    reminders = sorted((m["due_at"], m["status"]) for m in messages if m["kind"] == "reminder")
    assert [status for _, status in reminders] == ["sent", "scheduled"]
    assert [t["idempotency_key"] for t in texts(peers.simulator)] == [
        m["id"] for m in sorted(messages, key=lambda m: m["due_at"]) if m["status"] == "sent"
    ]
    assert len(texts(peers.simulator)) == 2


def test_a_reschedule_moves_the_reminders_and_a_cancellation_cancels_them_and_tells_the_patient(
    broker_url, database_url, peers
):
    peers, _ = peers
    session_id = session_id_of(peers)
    runtime = notifications_service(broker_url, database_url, peers, grace=timedelta(0))
    runtime.start()
    try:
        base = consuming(runtime)
        publish(broker_url, "session.booked", peers, **booking(peers))
        eventually(lambda: settled(base, session_id, "preparation_instructions"), what="the instructions")
        moved_to = peers.directory.sessions[session_id].starts_at + timedelta(days=1)
        publish(broker_url, "session.rescheduled", peers, **the_session_moves(peers, moved_to))
        moved = eventually(lambda: settled(base, session_id, "session_rescheduled"), what="the notice of the move")
        # As the scheduler does: the session is cancelled before its event is published.
        peers.directory.sessions[session_id] = replace(peers.directory.sessions[session_id], status="cancelled")
        publish(broker_url, "session.cancelled", peers, reason="patient_request", cancelled_at=peers.clock())
        cancelled = eventually(lambda: settled(base, session_id, "session_cancelled"), what="the cancellation notice")
    finally:
        runtime.stop()

    reminders = [(m["due_at"], m["status"], m["cancel_reason"]) for m in moved if m["kind"] == "reminder"]
    new_due = {(moved_to - timedelta(hours=h)).isoformat() for h in (48, 3)}
    assert sorted((s, r) for _, s, r in reminders) == [
        ("cancelled", "rescheduled"),
        ("cancelled", "rescheduled"),
        ("scheduled", None),
        ("scheduled", None),
    ]
    assert {datetime.fromisoformat(d).astimezone(UTC).isoformat() for d, s, _ in reminders if s == "scheduled"} == {
        datetime.fromisoformat(d).astimezone(UTC).isoformat() for d in new_due
    }
    assert {m["status"] for m in cancelled if m["kind"] == "reminder"} == {"cancelled"}
    assert [t["body"] for t in texts(peers.simulator)][-1] == next(
        m["body"] for m in cancelled if m["kind"] == "session_cancelled"
    )
    assert len(texts(peers.simulator)) == 3


def test_a_number_the_gateway_refuses_falls_back_to_email_with_the_calendar(broker_url, database_url, peers):
    peers, inbox = peers
    set_faults(peers.simulator, reject_numbers=[PHONE])
    runtime = notifications_service(broker_url, database_url, peers, grace=timedelta(0))
    runtime.start()
    try:
        base = consuming(runtime)
        publish(broker_url, "session.booked", peers, **booking(peers))
        messages = eventually(lambda: settled(base, session_id_of(peers), "preparation_instructions"), what="sent")
    finally:
        runtime.stop()

    [instructions] = [m for m in messages if m["kind"] == "preparation_instructions"]
    assert (instructions["status"], instructions["channel"]) == ("sent", "email")
    assert instructions["last_error"].startswith("sms:permanent:")
    [mail] = inbox.received
    # A long subject is folded after "Subject:"; unfolded, it keeps that fold's space.
    assert (mail["To"], mail["Subject"].strip()) == (ADDRESS, instructions["subject"])
    assert [part.get_content_type() for part in mail.iter_attachments()] == ["text/calendar"]
    assert texts(peers.simulator) == []
