"""The escort's messages through the real notifications service, on RabbitMQ and on SQLite and PostgreSQL, with the
SMS gateway simulator over HTTP: a requested escort ride gives the escort one text with the link (fetched when it is
sent), a redelivery none, a reschedule a new one; and the migrations keep every older message (a sent one stays
sent), let a kind repeat only once per round, and can be undone."""

import logging
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from integration.helpers import eventually, message_count, publish_raw
from integration.test_notifications_delivery import (
    Clock,
    Peers,
    consuming,
    messages_of,
    notifications_service,
    sms_gateway,
    texts,
)
from unit.fakes_notifications import ANN, BO, FakeDirectory, FakeEscortLinks, a_session

from services.notifications.bootstrap import MIGRATIONS
from shared.contract import RIDE_REQUESTED, RIDE_RESCHEDULED, new_event, to_json
from shared.persistence.engine import create_database_engine

pytestmark = pytest.mark.integration

ESCORT_NAME, ESCORT_PHONE = "Quintus Fairweather", "+14155550177"


def ride_event(event_type, *, session_id: str, ride_id: str, pickup_at: datetime):
    event = new_event(
        event_type,
        {"ride_id": ride_id, "session_id": session_id, "pickup_at": pickup_at, "mode": "escort", "status": "requested"},
        correlation_id=session_id,
    )
    return event.stamped_by("transport")


def test_a_requested_escort_ride_gives_the_escort_one_text_with_the_link_and_a_reschedule_a_new_one(
    broker_url, database_url, caplog
):
    caplog.set_level(logging.DEBUG)
    session_id, ride_id = str(uuid.uuid4()), str(uuid.uuid4())
    escort = replace(BO, session_id=session_id, name=ESCORT_NAME, phone=ESCORT_PHONE)
    session = replace(a_session(starts_at=datetime.now(UTC) + timedelta(days=7), escort=escort), session_id=session_id)
    links = FakeEscortLinks(base="https://rides.example.test/escort")
    with sms_gateway() as simulator:
        peers = Peers(simulator, 1, FakeDirectory(ANN, sessions=(session,)), links, Clock())
        notifications = notifications_service(broker_url, database_url, peers)
        notifications.start()
        try:
            base = consuming(notifications)
            pickup = session.recovery_ends_at
            requested = ride_event(RIDE_REQUESTED, session_id=session_id, ride_id=ride_id, pickup_at=pickup)
            for _ in range(2):  # a redelivery: the same event, the same event_id
                publish_raw(broker_url, to_json(requested), routing_key="ride.requested", message_id=requested.event_id)

            def once_sent(count: int):
                """The session's messages, once ``count`` of them are sent."""
                messages = messages_of(base, session_id)
                return messages if sum(m["status"] == "sent" for m in messages) >= count else None

            [first] = eventually(lambda: once_sent(1), what="the escort's text")
            rescheduled = ride_event(
                RIDE_RESCHEDULED, session_id=session_id, ride_id=ride_id, pickup_at=pickup + timedelta(days=1)
            )
            publish_raw(
                broker_url, to_json(rescheduled), routing_key="ride.rescheduled", message_id=rescheduled.event_id
            )
            # Handled in order on one channel: once the reschedule's text is sent, both copies of the request were too.
            both = eventually(lambda: once_sent(2), what="the escort asked again after the reschedule")
            sent = texts(simulator)
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
    assert [(t["to"], t["idempotency_key"]) for t in sent] == [(ESCORT_PHONE, m["id"]) for m in both]
    assert links.asked == [ride_id, ride_id], "the link is asked for when each text is sent, not per delivery"
    assert message_count(broker_url, "notifications.events.dlq") == 0
    secrets = (ESCORT_NAME, "Quintus", ESCORT_PHONE, links.url_for(ride_id))
    lines = [record.getMessage() for record in caplog.records]
    assert [line for line in lines if any(secret in line for secret in secrets)] == []


def test_the_migrations_keep_every_message_a_sent_one_stays_sent_and_a_kind_repeats_only_once_per_round(
    database_url,
):
    engine = create_database_engine(database_url, schema="notifications")
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    old_row = sa.text(
        "INSERT INTO messages (id, session_id, patient_id, kind, channel, subject, body, status, created_at, "
        "failure_reason) VALUES (:id, 's-1', 'p-1', :kind, 'sms', 'Subject', 'Body', :status, :at, :reason)"
    )
    created = datetime(2026, 12, 1, tzinfo=UTC)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql('CREATE SCHEMA IF NOT EXISTS "notifications"')
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        for id, kind, status, reason in (
            ("m-old", "preparation_instructions", "sent", None),
            ("m-crashed", "escort_ride_request", "pending", None),
            ("m-failed", "escort_patient_ready", "failed", "gateway answered 503"),
        ):
            connection.execute(old_row, {"id": id, "kind": kind, "status": status, "at": created, "reason": reason})
        command.upgrade(config, "head")

    insert = sa.text(
        "INSERT INTO messages (id, session_id, patient_id, kind, channel, subject, body, status, created_at, "
        "recipient, dedupe_key) VALUES (:id, 's-1', 'p-1', :kind, 'sms', '', '', 'sent', :at, 'escort', :key)"
    )
    at = datetime(2026, 12, 2, tzinfo=UTC)
    columns = "status, recipient, dedupe_key, attempts, last_error, body"
    with engine.begin() as connection:
        kept = {
            row.id: tuple(row)[1:]
            for row in connection.execute(sa.text(f"SELECT id, {columns} FROM messages ORDER BY id"))
        }
        due = connection.execute(
            sa.text("SELECT next_attempt_at = created_at FROM messages WHERE id = 'm-crashed'")
        ).scalar_one()
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
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
        undone = dict(connection.execute(sa.text("SELECT id, status FROM messages")).all())
    engine.dispose()

    assert kept == {
        "m-crashed": ("sending", "patient", "", 1, None, "Body"),
        "m-failed": ("failed", "patient", "", 1, "gateway answered 503", "Body"),
        "m-old": ("sent", "patient", "", 1, None, "Body"),
    }
    assert due, "a message a crash left in flight is handed over again at once"
    assert undone == {"m-old": "sent", "m-crashed": "pending", "m-failed": "failed", "m-1": "sent", "m-2": "sent"}
