"""Sending preparation instructions exactly once: retries, failures, redeliveries and crashes, with fakes."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fakes import FakeUnitOfWork
from unit.fakes_services import (
    CrashingGateway,
    FailingGateway,
    FakeDirectory,
    FakeMessageRepository,
    ProcessCrashed,
    RecordingGateway,
)

from services.notifications import handlers
from services.notifications.domain.contacts import ClinicFacts, Contact
from services.notifications.domain.messages import PREPARATION_INSTRUCTIONS, MessageStatus
from shared.contract import SESSION_BOOKED, Event, from_json, new_event, to_json

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
START = datetime(2027, 1, 5, 14, 0, tzinfo=UTC)
CLINIC = ClinicFacts(
    name="Riverside Ketamine Clinic",
    time_zone=ZoneInfo("America/New_York"),
    treatment_labels={"iv_infusion": "IV ketamine infusion"},
    arrival_lead=timedelta(minutes=15),
)
ANN = Contact(patient_id="patient-1", name="Ann Lee", phone="+14155550123", email=None, preferred_channel="sms")


def session_booked(*, session_id: str = "session-1", patient_id: str = "patient-1") -> Event:
    event = new_event(
        SESSION_BOOKED,
        {
            "session_id": session_id,
            "patient_id": patient_id,
            "treatment_type": "iv_infusion",
            "starts_at": START,
            "treatment_ends_at": START + timedelta(minutes=45),
            "recovery_ends_at": START + timedelta(minutes=90),
            "chair_id": "chair-1",
            "ride_home_mode": "escort",
        },
        correlation_id=session_id,
    )
    return from_json(to_json(event.stamped_by("scheduler")))


def notifications_uow() -> FakeUnitOfWork:
    return FakeUnitOfWork(messages=FakeMessageRepository())


def send(event: Event, uow: FakeUnitOfWork, gateway, *, directory=None, attempts: int = 3) -> None:
    handlers.send_preparation_instructions(
        event,
        uow_factory=uow,
        directory=directory or FakeDirectory(CLINIC, ANN),
        gateway=gateway,
        clock=lambda: NOW,
        delivery_attempts=attempts,
    )


def test_a_booked_session_gives_one_delivery_and_one_notification_sent():
    uow, gateway = notifications_uow(), RecordingGateway()
    event = session_booked()

    send(event, uow, gateway)

    [(delivered, address)] = gateway.deliveries
    assert address == "+14155550123"
    assert delivered.kind == PREPARATION_INSTRUCTIONS
    assert "arrive by 08:45" in delivered.body
    [stored] = uow.messages.all
    assert stored.id == delivered.id
    assert stored.status is MessageStatus.SENT
    assert stored.sent_at == NOW
    assert [e.type for e in uow.published] == ["notification.sent"]
    assert dict(uow.published[0].data) == {
        "notification_id": delivered.id,
        "session_id": "session-1",
        "kind": PREPARATION_INSTRUCTIONS,
        "channel": "sms",
    }
    assert uow.inbox.processed == {event.event_id}


def test_the_notification_events_carry_no_contact_detail():
    uow, gateway = notifications_uow(), RecordingGateway()

    send(session_booked(), uow, gateway)

    text = repr([dict(e.data) for e in uow.published])
    assert "Ann" not in text
    assert "+14155550123" not in text


def test_the_same_event_twice_gives_one_delivery():
    uow, gateway = notifications_uow(), RecordingGateway()
    event = session_booked()

    send(event, uow, gateway)
    send(event, uow, gateway)

    assert len(gateway.deliveries) == 1
    assert len(uow.messages.all) == 1
    assert [e.type for e in uow.published] == ["notification.sent"]


def test_another_session_booked_for_the_same_session_gives_no_second_delivery():
    uow, gateway = notifications_uow(), RecordingGateway()
    first, second = session_booked(), session_booked()

    send(first, uow, gateway)
    send(second, uow, gateway)

    assert len(gateway.deliveries) == 1
    assert len(uow.published) == 1
    assert uow.inbox.processed == {first.event_id, second.event_id}


def test_a_gateway_that_always_fails_leaves_the_message_failed_after_exactly_the_allowed_attempts():
    uow, gateway = notifications_uow(), FailingGateway(reason="gateway answered 503")

    send(session_booked(), uow, gateway, attempts=3)

    assert gateway.attempts == 3
    [stored] = uow.messages.all
    assert stored.status is MessageStatus.FAILED
    assert stored.failure_reason == "gateway answered 503"
    assert stored.sent_at is None
    assert [e.type for e in uow.published] == ["notification.failed"]
    assert uow.published[0].data["reason"] == "gateway answered 503"


def test_the_number_of_attempts_is_the_configured_delivery_attempts():
    uow, gateway = notifications_uow(), FailingGateway()

    send(session_booked(), uow, gateway, attempts=2)

    assert gateway.attempts == 2
    assert [e.type for e in uow.published] == ["notification.failed"]


def test_a_gateway_that_fails_once_then_takes_the_message_gives_sent():
    uow, gateway = notifications_uow(), FailingGateway(failures=1)

    send(session_booked(), uow, gateway)

    assert gateway.attempts == 2
    assert len(gateway.deliveries) == 1
    assert uow.messages.all[0].status is MessageStatus.SENT
    assert [e.type for e in uow.published] == ["notification.sent"]


def test_a_failed_message_is_not_retried_when_the_event_comes_again():
    uow = notifications_uow()
    event = session_booked()
    send(event, uow, FailingGateway(), attempts=1)
    gateway = RecordingGateway()

    send(session_booked(), uow, gateway)  # a later session.booked for the same session

    assert gateway.deliveries == []
    assert [e.type for e in uow.published] == ["notification.failed"]


def test_an_unknown_patient_gives_notification_failed_and_no_delivery():
    uow, gateway = notifications_uow(), RecordingGateway()
    event = session_booked(patient_id="patient-unknown")

    send(event, uow, gateway)

    assert gateway.deliveries == []
    [stored] = uow.messages.all
    assert stored.status is MessageStatus.FAILED
    assert stored.failure_reason == "the scheduler has no such patient"
    assert [e.type for e in uow.published] == ["notification.failed"]
    assert uow.published[0].data["reason"] == "the scheduler has no such patient"
    assert uow.inbox.processed == {event.event_id}


def test_a_preferred_channel_without_an_address_goes_by_sms():
    contact = Contact(
        patient_id="patient-1", name="Ann Lee", phone="+14155550123", email=None, preferred_channel="email"
    )
    uow, gateway = notifications_uow(), RecordingGateway()

    send(session_booked(), uow, gateway, directory=FakeDirectory(CLINIC, contact))

    [(message, address)] = gateway.deliveries
    assert (message.channel, address) == ("sms", "+14155550123")


def test_the_email_channel_delivers_to_the_email_address():
    contact = Contact(
        patient_id="patient-1", name="Ann Lee", phone="+14155550123", email="ann@example.org", preferred_channel="email"
    )
    uow, gateway = notifications_uow(), RecordingGateway()

    send(session_booked(), uow, gateway, directory=FakeDirectory(CLINIC, contact))

    [(message, address)] = gateway.deliveries
    assert (message.channel, address) == ("email", "ann@example.org")


def test_a_message_left_pending_by_a_crash_is_redelivered_with_the_same_message_id():
    uow = notifications_uow()
    event = session_booked()
    crashing = CrashingGateway()

    with pytest.raises(ProcessCrashed):
        send(event, uow, crashing)

    [pending] = uow.messages.all
    assert pending.status is MessageStatus.PENDING
    assert uow.published == []
    assert uow.inbox.processed == set()

    gateway = RecordingGateway()
    send(event, uow, gateway)  # the broker redelivers the unacknowledged event

    assert [m.id for m, _ in gateway.deliveries] == [m.id for m, _ in crashing.deliveries] == [pending.id]
    assert [m.id for m in uow.messages.all] == [pending.id]
    assert uow.messages.all[0].status is MessageStatus.SENT
    assert [e.type for e in uow.published] == ["notification.sent"]
    assert uow.published[0].data["notification_id"] == pending.id
    assert uow.inbox.processed == {event.event_id}


def test_a_pending_message_is_resent_unchanged_even_if_the_contact_changed_since():
    uow = notifications_uow()
    event = session_booked()
    with pytest.raises(ProcessCrashed):
        send(event, uow, CrashingGateway())
    [pending] = uow.messages.all
    moved = Contact(patient_id="patient-1", name="Ann Lee", phone="+14155550199", email=None, preferred_channel="sms")
    gateway = RecordingGateway()

    send(event, uow, gateway, directory=FakeDirectory(CLINIC, moved))

    [(message, address)] = gateway.deliveries
    assert message.id == pending.id
    assert message.body == pending.body
    assert address == "+14155550199"


# --- failures reported without an explanation --------------------------------------------------------------------


def test_a_gateway_failure_without_an_explanation_still_marks_the_message_failed():
    # DeliveryFailed() carries no message: the handler must not take the empty reason for success.
    uow, gateway = notifications_uow(), FailingGateway(reason=None)

    send(session_booked(), uow, gateway, attempts=1)

    assert gateway.deliveries == []
    assert uow.messages.all[0].status is MessageStatus.FAILED
    assert [e.type for e in uow.published] == ["notification.failed"]


def test_an_unknown_patient_reported_without_an_explanation_still_gives_notification_failed():
    uow, gateway = notifications_uow(), RecordingGateway()

    send(
        session_booked(patient_id="patient-unknown"),
        uow,
        gateway,
        directory=FakeDirectory(CLINIC, ANN, unknown_reason=""),
    )

    assert gateway.deliveries == []
    assert uow.messages.all[0].status is MessageStatus.FAILED
    assert [e.type for e in uow.published] == ["notification.failed"]
