"""Messages to a patient's escort: asked to confirm each requested pickup with transport's link, and called in when
the patient is discharged; each once, never to the patient, and nothing of the escort's or the link in a log line."""

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fakes import FakeUnitOfWork
from unit.fakes_services import (
    CrashingGateway,
    FakeDirectory,
    FakeEscortLinks,
    FakeMessageRepository,
    ProcessCrashed,
    RecordingGateway,
)

from services.notifications.adapters.scheduler_directory import SchedulerUnavailable
from services.notifications.adapters.transport_links import TransportUnavailable
from services.notifications.consumer import event_handlers
from services.notifications.domain.contacts import ClinicFacts, Contact, Escort
from services.notifications.domain.messages import ESCORT_PATIENT_READY, ESCORT_RIDE_REQUEST, MessageStatus
from services.notifications.domain.rides import NoLongerAwaitingEscort
from shared.contract import RIDE_DISPATCHED, RIDE_REQUESTED, RIDE_RESCHEDULED, Event, from_json, new_event, to_json
from shared.messaging.topology import NOTIFICATIONS_QUEUE

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PICKUP = datetime(2027, 1, 5, 15, 30, tzinfo=UTC)  # 10:30 in New York
CLINIC = ClinicFacts(
    name="Riverside Ketamine Clinic",
    time_zone=ZoneInfo("America/New_York"),
    treatment_labels={"iv_infusion": "IV ketamine infusion"},
    arrival_lead=timedelta(minutes=15),
)
ANN = Contact("patient-1", "Ann Lee", "+14155550123", "ann@example.org", preferred_channel="sms")
BO = Escort(session_id="session-1", patient_id="patient-1", name="Bo Lee", phone="+14155550124")


def ride_event(event_type=RIDE_REQUESTED, *, mode="escort", status="requested", pickup_at=PICKUP) -> Event:
    event = new_event(
        event_type,
        {
            "ride_id": "ride-1",
            "session_id": "session-1",
            "patient_id": "patient-1",
            "pickup_at": pickup_at,
            "mode": mode,
            "status": status,
        },
        correlation_id="session-1",
    )
    return from_json(to_json(event.stamped_by("transport")))


class Notifications:
    """The notifications service's use cases on fakes: the scheduler's directory, transport's links, a gateway."""

    def __init__(self, *, directory=None, links=None, gateway=None):
        self.uow = FakeUnitOfWork(messages=FakeMessageRepository())
        self.directory = directory or FakeDirectory(CLINIC, ANN, escorts=(BO,))
        self.links = links or FakeEscortLinks()
        self.gateway = gateway or RecordingGateway()

    def handle(self, event: Event) -> None:
        event_handlers(self.uow, self.directory, self.gateway, lambda: NOW, self.links)[event.type](event)

    @property
    def messages(self):
        return sorted(self.uow.messages.all, key=lambda m: m.created_at)


# --- asking the escort --------------------------------------------------------------------------------------------


def test_a_requested_escort_ride_sends_the_escort_not_the_patient_one_sms_with_the_clinic_the_pickup_and_the_link():
    service = Notifications()

    service.handle(ride_event())

    [(message, address)] = service.gateway.deliveries
    assert address == BO.phone
    assert (message.kind, message.channel, message.recipient) == (ESCORT_RIDE_REQUEST, "sms", "escort")
    assert "Riverside Ketamine Clinic" in message.body
    assert "Tuesday 5 January 2027 at 10:30" in message.body
    assert service.links.url_for("ride-1") in message.body
    assert "Hello Bo," in message.body
    [stored] = service.messages
    assert (stored.id, stored.status) == (message.id, MessageStatus.SENT)
    assert (stored.session_id, stored.patient_id) == ("session-1", "patient-1")
    assert [e.type for e in service.uow.published] == ["notification.sent"]
    assert service.uow.published[0].data["kind"] == ESCORT_RIDE_REQUEST


def test_the_same_ride_requested_event_twice_gives_one_message():
    service = Notifications()
    event = ride_event()

    service.handle(event)
    service.handle(event)

    assert len(service.gateway.deliveries) == 1
    assert len(service.messages) == 1
    assert service.links.asked == ["ride-1"]
    assert [e.type for e in service.uow.published] == ["notification.sent"]


def test_a_rescheduled_escort_ride_asks_the_escort_again_with_the_new_pickup_time():
    service = Notifications()
    service.handle(ride_event())

    service.handle(ride_event(RIDE_RESCHEDULED, pickup_at=PICKUP + timedelta(days=1, hours=2)))

    first, second = [message for message, _ in service.gateway.deliveries]
    assert first.id != second.id
    assert "Wednesday 6 January 2027 at 12:30" in second.body
    assert [m.kind for m in service.messages] == [ESCORT_RIDE_REQUEST, ESCORT_RIDE_REQUEST]
    assert [e.type for e in service.uow.published] == ["notification.sent", "notification.sent"]


def test_a_ride_that_no_longer_waits_for_its_escort_sends_nothing_and_its_event_is_handled():
    links = FakeEscortLinks(answers={"ride-1": NoLongerAwaitingEscort()})
    service = Notifications(links=links)
    event = ride_event()

    service.handle(event)

    assert service.gateway.deliveries == []
    assert service.messages == []
    assert service.uow.published == []
    assert service.uow.inbox.processed == {event.event_id}
    assert service.directory.sessions_looked_up == [], "nobody to ask, so no need to ask the scheduler who"


@pytest.mark.parametrize(
    "failure",
    [TransportUnavailable("transport answered 404"), TransportUnavailable("transport answered 503"), ConnectionError()],
)
def test_a_link_transport_cannot_give_yet_is_a_passing_failure_that_leaves_the_event_to_be_tried_again(failure):
    service = Notifications(links=FakeEscortLinks(answers={"ride-1": failure}))
    event = ride_event()

    with pytest.raises(type(failure)):
        service.handle(event)

    assert service.gateway.deliveries == []
    assert service.messages == []
    assert service.uow.inbox.processed == set()

    service.links.answer("ride-1", None)  # transport is back
    service.handle(event)

    assert len(service.gateway.deliveries) == 1


def test_a_scheduler_that_cannot_be_asked_for_the_escort_leaves_the_event_to_be_tried_again():
    down = SchedulerUnavailable("the scheduler answered 503")
    directory = FakeDirectory(CLINIC, ANN, escorts=(BO,), unavailable=down)
    service = Notifications(directory=directory)
    event = ride_event()

    with pytest.raises(SchedulerUnavailable):
        service.handle(event)

    assert service.gateway.deliveries == []
    assert service.messages == []
    assert service.uow.inbox.processed == set()


def test_a_session_that_names_no_escort_gives_notification_failed_and_no_delivery():
    service = Notifications(directory=FakeDirectory(CLINIC, ANN))
    event = ride_event()

    service.handle(event)

    assert service.gateway.deliveries == []
    [stored] = service.messages
    assert (stored.status, stored.recipient) == (MessageStatus.FAILED, "escort")
    assert stored.failure_reason == "the session names no escort"
    assert [e.type for e in service.uow.published] == ["notification.failed"]
    assert service.uow.inbox.processed == {event.event_id}


@pytest.mark.parametrize(
    "event",
    [
        ride_event(mode="provider"),
        ride_event(RIDE_RESCHEDULED, mode="provider"),
        ride_event(RIDE_RESCHEDULED, status="confirmed"),
        ride_event(RIDE_RESCHEDULED, status="cancelled"),
    ],
    ids=["provider requested", "provider rescheduled", "escort ride confirmed", "escort ride cancelled"],
)
def test_a_ride_that_does_not_wait_for_an_escort_sends_nothing_and_asks_nobody(event):
    service = Notifications()

    service.handle(event)

    assert service.gateway.deliveries == []
    assert service.messages == []
    assert service.links.asked == []
    assert service.directory.sessions_looked_up == []
    assert service.uow.inbox.processed == {event.event_id}


def test_a_request_left_pending_by_a_crash_is_resent_unchanged_without_asking_transport_again():
    service = Notifications(gateway=CrashingGateway())
    event = ride_event()
    with pytest.raises(ProcessCrashed):
        service.handle(event)
    [pending] = service.messages
    service.gateway = RecordingGateway()

    service.handle(event)  # the broker redelivers the unacknowledged event

    [(message, address)] = service.gateway.deliveries
    assert (message.id, message.body, address) == (pending.id, pending.body, BO.phone)
    assert service.links.asked == ["ride-1"]
    assert [m.status for m in service.messages] == [MessageStatus.SENT]


# --- calling the escort in ----------------------------------------------------------------------------------------


def test_a_dispatched_escort_ride_tells_the_escort_the_patient_is_ready_once():
    service = Notifications()
    dispatched = ride_event(RIDE_DISPATCHED, status="dispatched")

    service.handle(dispatched)
    service.handle(dispatched)
    service.handle(ride_event(RIDE_DISPATCHED, status="dispatched"))  # the same ride dispatched in another event

    [(message, address)] = service.gateway.deliveries
    assert address == BO.phone
    assert (message.kind, message.recipient) == (ESCORT_PATIENT_READY, "escort")
    assert "the patient you are picking up from Riverside Ketamine Clinic is ready to leave now." in message.body
    assert service.links.asked == [], "coming to collect the patient needs no link"
    assert [e.type for e in service.uow.published] == ["notification.sent"]


def test_the_escort_is_asked_to_come_to_the_clinics_address_when_the_clinic_gives_one():
    clinic = ClinicFacts(
        CLINIC.name, CLINIC.time_zone, CLINIC.treatment_labels, CLINIC.arrival_lead, address="12 River Rd, Hudson NY"
    )
    service = Notifications(directory=FakeDirectory(clinic, ANN, escorts=(BO,)))

    service.handle(ride_event(RIDE_DISPATCHED, status="dispatched"))

    [(message, _)] = service.gateway.deliveries
    assert message.body.endswith("Please come to 12 River Rd, Hudson NY.")


def test_a_dispatched_provider_ride_sends_the_escort_nothing():
    service = Notifications()

    service.handle(ride_event(RIDE_DISPATCHED, mode="provider", status="dispatched"))

    assert service.gateway.deliveries == []
    assert service.directory.sessions_looked_up == []


# --- what leaves the service --------------------------------------------------------------------------------------


def test_no_log_line_and_no_event_holds_the_escorts_name_or_phone_or_the_link(caplog):
    caplog.set_level(logging.DEBUG)
    service = Notifications()
    link = service.links.url_for("ride-1")

    service.handle(ride_event())
    service.handle(ride_event(RIDE_RESCHEDULED))
    service.handle(ride_event(RIDE_DISPATCHED, status="dispatched"))

    assert len(service.gateway.deliveries) == 3
    secrets = ("Bo", BO.phone, link, "tok-ride-1")
    lines = [record.getMessage() for record in caplog.records]
    assert lines, "the handlers log what they do"
    assert [line for line in lines if any(secret in line for secret in secrets)] == []
    published = repr([(e.type, dict(e.data)) for e in service.uow.published])
    assert [secret for secret in secrets if secret in published] == []


def test_an_escort_link_does_not_show_itself_in_a_repr():
    assert "tok-" not in repr(FakeEscortLinks().escort_link("ride-1"))


def test_the_consumer_handles_exactly_the_types_its_queue_is_bound_to():
    service = Notifications()

    assert set(event_handlers(service.uow, service.directory, service.gateway, lambda: NOW, service.links)) == set(
        NOTIFICATIONS_QUEUE.routing_keys
    )
