"""The local outbox's page: the stored messages with their text, escaped, under a policy that runs no script, and
no page at all once a channel really sends."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from fakes import FakeUnitOfWork
from flask import Flask
from unit.fakes_notifications import FakeMessageRepository

from services.notifications.api.outbox_page import create_outbox_page
from services.notifications.domain.messages import MessageStatus, planned

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


def stored(message_id: str, body: str, status: MessageStatus = MessageStatus.STORED):
    message = planned(
        message_id=message_id,
        session_id="session-1",
        patient_id="patient-1",
        kind="preparation_instructions",
        recipient="patient",
        dedupe_key=message_id,
        due_at=NOW,
        now=NOW,
    )
    message.status, message.channel, message.body, message.sent_at = status, "sms", body, NOW
    return message


def page(*, enabled: bool, messages=()):
    app = Flask(__name__)
    uow = FakeUnitOfWork(messages=FakeMessageRepository(*messages))
    app.register_blueprint(
        create_outbox_page(uow_factory=uow, clinic_zone=ZoneInfo("America/New_York"), enabled=enabled)
    )
    return app.test_client().get("/outbox")


def test_the_page_shows_the_stored_messages_text_escaped_and_not_the_sent_ones():
    answer = page(
        enabled=True,
        messages=(stored("m-1", "Hello <b>Ann</b>, arrive by 8:45 AM"), stored("m-2", "Sent", MessageStatus.SENT)),
    )

    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "Hello &lt;b&gt;Ann&lt;/b&gt;, arrive by 8:45 AM" in html
    assert ">Sent<" not in html
    assert "2026-12-01T10:00:00-05:00" in html, "when it was stored, in the clinic's offset"
    assert "<script" not in html
    assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert answer.headers["Cache-Control"] == "no-store"


def test_there_is_no_page_once_messages_really_leave_the_clinic():
    assert page(enabled=False, messages=(stored("m-1", "Hello"),)).status_code == 404
