"""A message's lifecycle is its transition table: scheduled → sending → sent, stored, delivered or failed, or
cancelled while it waits; a step the table does not list is refused and changes nothing."""

from datetime import UTC, datetime

import pytest

from services.notifications.domain.messages import (
    TRANSITIONS,
    MessageStatus,
    Step,
    StepRefused,
    planned,
)
from services.notifications.domain.outgoing import Receipt, ReceiptStatus

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def a_message():
    return planned(
        message_id="m-1",
        session_id="s-1",
        patient_id="p-1",
        kind="preparation_instructions",
        recipient="patient",
        dedupe_key="",
        due_at=NOW,
        now=NOW,
    )


def sending():
    message = a_message()
    message.start(channel="sms", language="en", subject=None, body="text")
    return message


def test_a_planned_message_is_scheduled_for_its_due_time_with_nothing_rendered():
    message = a_message()

    assert message.status is MessageStatus.SCHEDULED
    assert (message.next_attempt_at, message.channel, message.body, message.attempts) == (NOW, None, None, 0)


def test_starting_records_the_channel_language_and_text_and_counts_an_attempt():
    message = sending()

    assert message.status is MessageStatus.SENDING
    assert (message.channel, message.language, message.body, message.attempts) == ("sms", "en", "text", 1)


@pytest.mark.parametrize(
    "receipt, status",
    [
        (ReceiptStatus.SENT, MessageStatus.SENT),
        (ReceiptStatus.DELIVERED, MessageStatus.DELIVERED),
        (ReceiptStatus.STORED, MessageStatus.STORED),
    ],
)
def test_the_channels_receipt_is_the_status_recorded(receipt, status):
    message = sending()

    message.record(Receipt(receipt), now=NOW)

    assert message.status is status and message.sent_at == NOW


def test_a_sent_message_announces_notification_sent_and_a_stored_one_announces_nothing():
    sent, stored = sending(), sending()

    assert [e.type for e in sent.record(Receipt(ReceiptStatus.SENT), now=NOW)] == ["notification.sent"]
    assert stored.record(Receipt(ReceiptStatus.STORED), now=NOW) == []


def test_a_failure_announces_notification_failed_with_its_code_and_no_text():
    message = sending()

    [event] = message.fail("sms:permanent:number_refused")

    assert event.type == "notification.failed"
    assert dict(event.data) == {
        "notification_id": "m-1",
        "session_id": "s-1",
        "kind": "preparation_instructions",
        "channel": "sms",
        "reason": "sms:permanent:number_refused",
    }


def test_a_message_in_flight_cannot_be_cancelled_and_stays_sending():
    message = sending()

    with pytest.raises(StepRefused):
        message.cancel("rescheduled")

    assert message.status is MessageStatus.SENDING


@pytest.mark.parametrize("status", [s for s in MessageStatus if not TRANSITIONS[s]])
def test_a_settled_message_takes_no_step_at_all(status):
    message = a_message()
    message.status = status

    for step in Step:
        assert not message.allows(step)
    with pytest.raises(StepRefused):
        message.cancel("late")


def test_only_a_waiting_message_can_be_cancelled_or_postponed():
    allowed = {status for status, steps in TRANSITIONS.items() if Step.CANCEL in steps or Step.POSTPONE in steps}

    assert allowed == {MessageStatus.SCHEDULED}


def test_a_temporary_failure_puts_the_message_back_to_wait_for_its_next_attempt():
    message = sending()

    message.retry(at=NOW.replace(hour=13), error="sms:temporary:503")

    assert message.status is MessageStatus.SCHEDULED
    assert (message.next_attempt_at, message.last_error) == (NOW.replace(hour=13), "sms:temporary:503")


def test_falling_back_keeps_the_message_in_flight_on_the_other_channel_and_remembers_it():
    message = sending()

    message.fall_back(channel="email", language="en", subject="s", body="b", error="sms:permanent:refused")

    assert (message.status, message.channel, message.fell_back) == (MessageStatus.SENDING, "email", True)
