"""The consumer only plans: each event's messages are recorded with the event in one transaction, nothing is sent
and nobody outside is asked, and a redelivered event plans nothing twice."""

import logging
from datetime import UTC, datetime, timedelta

from fakes import FakeUnitOfWork
from unit.fakes_notifications import START, FakeMessageRepository

from services.notifications import handlers
from services.notifications.consumer import event_handlers
from services.notifications.domain.messages import MessageStatus
from services.notifications.domain.planning import Policy
from shared.contract import CATALOGUE, SESSION_BOOKED, Event, from_json, new_event, to_json
from shared.messaging.topology import NOTIFICATIONS_QUEUE

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def session_booked(*, session_id: str = "session-1") -> Event:
    event = new_event(
        SESSION_BOOKED,
        {
            "session_id": session_id,
            "patient_id": "patient-1",
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


def consumer(uow: FakeUnitOfWork, policy: Policy | None = None):
    return event_handlers(uow, policy or Policy(), lambda: NOW)


def test_a_booking_records_its_messages_as_scheduled_with_the_event_in_one_commit_and_publishes_nothing():
    uow = FakeUnitOfWork(messages=FakeMessageRepository())
    event = session_booked()

    consumer(uow)["session.booked"](event)

    assert sorted(m.kind for m in uow.messages.all) == ["preparation_instructions", "reminder", "reminder"]
    assert {m.status for m in uow.messages.all} == {MessageStatus.SCHEDULED}
    assert {m.channel for m in uow.messages.all} == {None}, "the channel is chosen at send time"
    assert (uow.inbox.processed, uow.committed, uow.published) == ({event.event_id}, 1, [])


def test_the_same_event_twice_plans_its_messages_once():
    uow = FakeUnitOfWork(messages=FakeMessageRepository())
    event = session_booked()

    consumer(uow)["session.booked"](event)
    consumer(uow)["session.booked"](event)

    assert len(uow.messages.all) == 3
    assert uow.committed == 1


def test_another_booking_event_for_the_same_session_plans_no_second_instructions():
    uow = FakeUnitOfWork(messages=FakeMessageRepository())

    consumer(uow)["session.booked"](session_booked())
    consumer(uow)["session.booked"](session_booked())

    assert [m.kind for m in uow.messages.all].count("preparation_instructions") == 1


def test_a_cancellation_marks_the_pending_messages_cancelled_in_the_same_commit():
    uow = FakeUnitOfWork(messages=FakeMessageRepository())
    consumer(uow)["session.booked"](session_booked())
    cancelled = new_event(
        CATALOGUE["session.cancelled"],
        {"session_id": "session-1", "patient_id": "patient-1", "cancelled_at": NOW, "reason": "patient_request"},
        correlation_id="session-1",
    ).stamped_by("scheduler")

    consumer(uow)["session.cancelled"](cancelled)

    assert {(m.status, m.cancel_reason) for m in uow.messages.all} == {(MessageStatus.CANCELLED, "session_cancelled")}
    assert uow.committed == 2


def test_a_ride_at_risk_without_a_front_desk_address_plans_nothing_and_says_so_without_any_detail(caplog):
    caplog.set_level(logging.INFO)
    uow = FakeUnitOfWork(messages=FakeMessageRepository())
    at_risk = new_event(
        CATALOGUE["ride.at_risk"],
        {
            "ride_id": "ride-1",
            "session_id": "session-1",
            "pickup_at": START,
            "mode": "escort",
            "status": "requested",
            "at_risk": "2h",
        },
        correlation_id="session-1",
    ).stamped_by("transport")

    handlers.plan_messages(at_risk, uow_factory=uow, policy=Policy(front_desk=False), clock=lambda: NOW)

    assert uow.messages.all == []
    assert uow.inbox.processed == {at_risk.event_id}
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        f"ride.at_risk {at_risk.event_id} for session session-1: no message (front_desk_email_unset)"
    ]


def test_the_consumer_handles_exactly_the_types_its_queue_is_bound_to():
    assert set(consumer(FakeUnitOfWork())) == set(NOTIFICATIONS_QUEUE.routing_keys)
    assert set(NOTIFICATIONS_QUEUE.routing_keys) == {
        "session.booked",
        "session.rescheduled",
        "session.cancelled",
        "session.no_show",
        "session.discharged",
        "ride.requested",
        "ride.rescheduled",
        "ride.confirmed",
        "ride.at_risk",
        "ride.dispatched",
    }
