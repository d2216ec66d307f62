"""An outage of a dependency is waited out, not dead-lettered: notifications cannot reach the scheduler's API for
longer than the old in-handler retries lasted (about 11 s); the booking's messages are planned at once (the consumer
asks nobody), wait unsent while the scheduler is away, and the patient still gets their instructions once it is
back, with nothing in the dead-letter queue and no patient detail in any log line. A database that stays read-only
past the retry window ends in the dead-letter queue named by its failure, never by the patient's details."""

import logging
import time
from datetime import timedelta

import psycopg
import pytest
import requests
from infrastructure import POSTGRES_ADMIN_DB, POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER
from integration.helpers import (
    BrokerProxy,
    QueueReader,
    always_open_clinic,
    clinic_time,
    eventually,
    message_count,
    publish_raw,
    session_booked,
)
from sqlalchemy.engine import make_url
from unit.fakes_notifications import FakeChannel, FakeDirectory, FakeTemplates, a_session

from services.notifications.bootstrap import bootstrap as bootstrap_notifications
from services.notifications.domain.contacts import Contact
from services.notifications.settings import NotificationSettings
from services.scheduler.bootstrap import bootstrap as bootstrap_scheduler
from shared.contract import to_json
from shared.logging_setup import FORMAT, RedactingFormatter
from shared.messaging import RetryPolicy
from shared.settings import Settings

pytestmark = pytest.mark.integration

TOKEN = "outage-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LONGER_THAN_THE_OLD_RETRIES = 15.0
POLICY = RetryPolicy(attempts=2, initial_delay=0.1, max_delay=0.2, delays=(1.0, 2.0, 4.0), window=600)
NAME, PHONE = "Zebedee Quarrington", "+14155550199"
PATIENT_NAME, PATIENT_PHONE = "Philippa Quorndon-Vasquez", "+14155550187"
EMAIL = "philippa.quorndon@example.org"
# Every piece of the patient's details, and the words that would show a message's text had leaked.
SECRETS = (PATIENT_NAME, "Philippa", "Quorndon", PATIENT_PHONE, "4155550187", EMAIL, "Hello", "Please arrive by")
# No grace, no quiet hours: the instructions are due the moment the booking is handled, whatever the time of day.
AT_ONCE = NotificationSettings(grace=timedelta(0), quiet_hours=None)


def settings(service: str, broker_url: str, database_url: str, scheduler_url: str = "http://127.0.0.1:1") -> Settings:
    return Settings(
        service=service,
        broker_url=broker_url,
        database_url=database_url,
        port=0,
        service_token=TOKEN,
        scheduler_url=scheduler_url,
    )


@pytest.fixture
def scheduler(broker_url, tmp_path):
    runtime = bootstrap_scheduler(
        settings("scheduler", broker_url, f"sqlite:///{tmp_path / 'scheduler.sqlite3'}"), clinic=always_open_clinic()
    )
    runtime.start()
    yield f"http://127.0.0.1:{runtime.port}"
    runtime.stop()


def test_notifications_waits_out_a_scheduler_outage_and_sends_the_instructions_once_it_is_back(
    broker_url, scheduler, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    patient = requests.post(f"{scheduler}/api/patients", json={"name": NAME, "phone": PHONE}, headers=AUTH, timeout=10)
    assert patient.status_code == 201, patient.text
    patient_id = patient.json()["id"]
    proxy = BrokerProxy(target=("127.0.0.1", int(scheduler.rsplit(":", 1)[1])))
    notifications = bootstrap_notifications(
        settings(
            "notifications",
            broker_url,
            f"sqlite:///{tmp_path / 'notifications.sqlite3'}",
            scheduler_url=f"http://127.0.0.1:{proxy.port}",
        ),
        notifications=AT_ONCE,
        channels={"sms": FakeChannel("sms"), "email": FakeChannel("email")},
        retry=POLICY,
    )
    notifications.start()
    try:
        base = f"http://127.0.0.1:{notifications.port}"
        eventually(
            lambda: requests.get(f"{base}/healthz", timeout=5).json()["consuming"], what="notifications consuming"
        )
        proxy.down()
        # Booked for real: the scheduler publishes session.booked, and the session is there to be asked about.
        booking = requests.post(
            f"{scheduler}/api/sessions",
            json={
                "patient_id": patient_id,
                "treatment_type": "iv_infusion",
                "starts_at": clinic_time(3, 9),
                "ride_home": {"mode": "escort", "escort_name": "Bo Lee", "escort_phone": "+14155550124"},
            },
            headers=AUTH,
            timeout=10,
        )
        assert booking.status_code == 201, booking.text
        session_id = booking.json()["id"]
        cut_at = time.monotonic()
        eventually(lambda: proxy.refused_count() >= 6, what="several rounds of attempts failing during the outage")
        time.sleep(max(0.0, LONGER_THAN_THE_OLD_RETRIES - (time.monotonic() - cut_at)))

        def messages():
            answer = requests.get(f"{base}/api/messages", params={"session_id": session_id}, headers=AUTH)
            return [m for m in answer.json()["messages"] if m["kind"] == "preparation_instructions"]

        assert message_count(broker_url, "notifications.events.dlq") == 0, "an outage does not make an event poison"
        waiting = messages()
        assert [(m["kind"], m["status"], m["body"]) for m in waiting] == [
            ("preparation_instructions", "scheduled", None)
        ], "planned at once, and nothing sent while the scheduler could not be asked"
        assert waiting[0]["last_error"].startswith("dependency:")
        assert requests.get(f"{base}/healthz", timeout=5).json()["consuming"] is True

        proxy.up()
        back_at = time.monotonic()

        def sent_now():
            return [m for m in messages() if m["status"] == "sent"]

        sent = eventually(sent_now, what="the instructions once the scheduler is back", deadline=90)
        print(f"handled {time.monotonic() - back_at:.1f}s after the scheduler came back")
    finally:
        notifications.stop()
        proxy.close()

    assert [m["kind"] for m in sent] == ["preparation_instructions"]
    assert sent[0]["status"] == "sent"
    assert message_count(broker_url, "notifications.events.dlq") == 0
    assert message_count(broker_url, "notifications.events.retry") == 0
    formatter = RedactingFormatter()
    for record in caplog.records:
        line = formatter.format(replace_cached(record))
        assert NAME not in line and PHONE not in line and "Zebedee" not in line, line


def make_read_only(database_url: str) -> None:
    """As a failover to a standby or a full disk would: every transaction from now on refuses to write."""
    name = make_url(database_url).database
    with psycopg.connect(
        host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER, dbname=POSTGRES_ADMIN_DB, autocommit=True
    ) as connection:
        connection.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        # Pooled connections keep the setting they started with; dropped, they reconnect read-only.
        connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )


def leaks(records: list[logging.LogRecord], *texts: str) -> list[str]:
    """Each place a record shows one of ``texts``: in its message, or as the product prints it."""
    formatter = RedactingFormatter(FORMAT)
    found = []
    for record in records:
        for shown in (record.getMessage(), formatter.format(record)):
            found += [f"{record.name}: {text!r} in {shown!r}" for text in texts if text in shown]
    return found


def replace_cached(record: logging.LogRecord) -> logging.LogRecord:
    """A copy without the text another handler may have cached, so the product's formatter renders it afresh."""
    copy = logging.makeLogRecord(record.__dict__)
    copy.exc_text = None
    return copy


def test_a_read_only_notifications_database_is_retried_and_its_dead_letter_names_the_failure_but_no_patient_detail(
    broker_url, postgres_url, caplog
):
    caplog.set_level(logging.DEBUG)
    event = session_booked()
    contact = Contact(event.data["patient_id"], PATIENT_NAME, PATIENT_PHONE, EMAIL, preferred_channel="email")
    session = a_session(session_id=event.data["session_id"])
    email, sms = FakeChannel("email"), FakeChannel("sms")
    notifications = bootstrap_notifications(
        settings("notifications", broker_url, postgres_url),
        notifications=AT_ONCE,
        channels={"email": email, "sms": sms},
        templates=FakeTemplates(),
        directory=FakeDirectory(contact, sessions=(session,)),
        retry=RetryPolicy(attempts=2, initial_delay=0.1, max_delay=0.2, delays=(0.5,), window=3),
    )
    make_read_only(postgres_url)
    dlq = QueueReader(broker_url, "notifications.events.dlq")
    notifications.start()
    try:
        base = f"http://127.0.0.1:{notifications.port}"
        eventually(
            lambda: requests.get(f"{base}/healthz", timeout=5).json()["consuming"], what="notifications consuming"
        )
        publish_raw(broker_url, to_json(event), message_id=event.event_id)
        dead = dlq.wait_for_count(1, what="the event dead-lettered once its retry window is over")
    finally:
        notifications.stop()

    reason = dead[0].reason
    assert reason.startswith("still failing after") and "sqlstate 25006" in reason, reason
    assert dead[0].headers["x-retry-rounds"] >= 2
    headers = repr(dead[0].headers)
    assert [secret for secret in SECRETS if secret in headers] == [], headers
    assert email.tries == [] and sms.tries == [], "nothing is sent that was not planned first"
    assert leaks(caplog.records, *SECRETS) == []
