"""The escort's messages through the real notifications service, on RabbitMQ and on SQLite and PostgreSQL: a requested
escort ride gives the escort one message with the link, a redelivery none, a reschedule a new one; and the migration
that lets a kind repeat per round keeps every older message and still refuses a second message of one round."""

import logging
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from integration.helpers import eventually, message_count, publish_raw
from unit.fakes_services import FakeDirectory, FakeEscortLinks, RecordingGateway

from services.notifications.bootstrap import MIGRATIONS
from services.notifications.bootstrap import bootstrap as bootstrap_notifications
from services.notifications.domain.contacts import ClinicFacts, Escort
from shared.contract import RIDE_REQUESTED, RIDE_RESCHEDULED, new_event, to_json
from shared.messaging import RetryPolicy
from shared.persistence.engine import create_database_engine
from shared.settings import Settings

pytestmark = pytest.mark.integration

TOKEN = "escort-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CLINIC = ClinicFacts(
    name="Riverside Ketamine Clinic",
    time_zone=ZoneInfo("America/New_York"),
    treatment_labels={"iv_infusion": "IV ketamine infusion"},
    arrival_lead=timedelta(minutes=15),
)
ESCORT_NAME, ESCORT_PHONE = "Quintus Fairweather", "+14155550177"


def ride_event(event_type, *, session_id: str, ride_id: str, pickup_at: datetime):
    event = new_event(
        event_type,
        {"ride_id": ride_id, "session_id": session_id, "pickup_at": pickup_at, "mode": "escort", "status": "requested"},
        correlation_id=session_id,
    )
    return event.stamped_by("transport")


def test_a_requested_escort_ride_gives_the_escort_one_message_with_the_link_and_a_reschedule_a_new_one(
    broker_url, database_url, caplog
):
    caplog.set_level(logging.DEBUG)
    session_id, ride_id = str(uuid.uuid4()), str(uuid.uuid4())
    escort = Escort(session_id=session_id, patient_id="patient-1", name=ESCORT_NAME, phone=ESCORT_PHONE)
    links, gateway = FakeEscortLinks(base="https://rides.example.test/escort"), RecordingGateway()
    notifications = bootstrap_notifications(
        Settings(
            service="notifications",
            broker_url=broker_url,
            database_url=database_url,
            port=0,
            service_token=TOKEN,
            scheduler_url="http://127.0.0.1:1",
        ),
        directory=FakeDirectory(CLINIC, escorts=(escort,)),
        links=links,
        gateway=gateway,
        retry=RetryPolicy(attempts=2, initial_delay=0.05, max_delay=0.1, delays=(0.5,), window=60),
    )
    notifications.start()
    try:
        base = f"http://127.0.0.1:{notifications.port}"
        healthz = f"{base}/healthz"
        eventually(lambda: requests.get(healthz, timeout=5).json()["consuming"], what="notifications consuming")
        pickup = (datetime.now(UTC) + timedelta(days=7)).replace(hour=15, minute=30, second=0, microsecond=0)
        requested = ride_event(RIDE_REQUESTED, session_id=session_id, ride_id=ride_id, pickup_at=pickup)
        for _ in range(2):  # a redelivery: the same event, the same event_id
            publish_raw(broker_url, to_json(requested), routing_key="ride.requested", message_id=requested.event_id)

        def once_sent(count: int):
            """The session's messages, once ``count`` of them are sent."""
            answer = requests.get(f"{base}/api/messages", params={"session_id": session_id}, headers=AUTH, timeout=5)
            assert answer.status_code == 200, answer.text
            messages = answer.json()["messages"]
            return messages if sum(m["status"] == "sent" for m in messages) >= count else None

        [first] = eventually(lambda: once_sent(1), what="the escort's message")
        rescheduled = ride_event(
            RIDE_RESCHEDULED, session_id=session_id, ride_id=ride_id, pickup_at=pickup + timedelta(days=1)
        )
        publish_raw(broker_url, to_json(rescheduled), routing_key="ride.rescheduled", message_id=rescheduled.event_id)
        # Handled in order on one channel: once the reschedule's message is sent, both copies of the request were too.
        both = eventually(lambda: once_sent(2), what="the escort asked again after the reschedule")
    finally:
        notifications.stop()

    assert (first["kind"], first["recipient"], first["channel"], first["status"]) == (
        "escort_ride_request",
        "escort",
        "sms",
        "sent",
    )
    assert links.url_for(ride_id) in first["body"]
    assert [m["kind"] for m in both] == ["escort_ride_request", "escort_ride_request"]
    assert both[0]["id"] == first["id"] and both[1]["id"] != first["id"]
    assert [address for _, address in gateway.deliveries] == [ESCORT_PHONE, ESCORT_PHONE]
    assert message_count(broker_url, "notifications.events.dlq") == 0
    secrets = (ESCORT_NAME, "Quintus", ESCORT_PHONE, links.url_for(ride_id))
    lines = [record.getMessage() for record in caplog.records]
    assert [line for line in lines if any(secret in line for secret in secrets)] == []


def test_the_migration_keeps_every_message_and_lets_a_kind_repeat_only_once_per_round(database_url):
    engine = create_database_engine(database_url, schema="notifications")
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql('CREATE SCHEMA IF NOT EXISTS "notifications"')
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(
            sa.text(
                "INSERT INTO messages (id, session_id, patient_id, kind, channel, subject, body, status, created_at) "
                "VALUES ('m-old', 's-1', 'p-1', 'preparation_instructions', 'sms', '', '', 'sent', :at)"
            ),
            {"at": datetime(2026, 12, 1, tzinfo=UTC)},
        )
        command.upgrade(config, "head")

    insert = sa.text(
        "INSERT INTO messages (id, session_id, patient_id, kind, channel, subject, body, status, created_at, "
        "recipient, dedupe_key) VALUES (:id, 's-1', 'p-1', :kind, 'sms', '', '', 'sent', :at, 'escort', :key)"
    )
    at = datetime(2026, 12, 2, tzinfo=UTC)
    with engine.begin() as connection:
        old = connection.execute(sa.text("SELECT recipient, dedupe_key FROM messages WHERE id = 'm-old'")).one()
        connection.execute(insert, {"id": "m-1", "kind": "escort_ride_request", "key": "round-1", "at": at})
        connection.execute(insert, {"id": "m-2", "kind": "escort_ride_request", "key": "round-2", "at": at})
    with pytest.raises(sa.exc.IntegrityError):
        with engine.begin() as connection:
            connection.execute(insert, {"id": "m-3", "kind": "escort_ride_request", "key": "round-2", "at": at})
    with pytest.raises(sa.exc.IntegrityError):
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO messages (id, session_id, patient_id, kind, channel, subject, body, status, created_at) "
                    "VALUES ('m-4', 's-1', 'p-1', 'preparation_instructions', 'sms', '', '', 'sent', :at)"
                ),
                {"at": at},
            )
    engine.dispose()

    assert tuple(old) == ("patient", "")
