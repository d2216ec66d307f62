"""The delivery worker on fakes: each due message is sent once, when due, by the right channel, in the right words;
it waits out quiet hours and outages, falls back once when a channel refuses for good, backs off when it fails for
now, and after a crash between sending and recording sends the same message again under the same id."""

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fakes import FakeUnitOfWork
from unit.fakes_notifications import (
    ANN,
    BO,
    CLINIC,
    START,
    CrashingChannel,
    FakeChannel,
    FakeDirectory,
    FakeEscortLinks,
    FakeMessageRepository,
    FakeTemplates,
    IdempotentGateway,
    ProcessCrashed,
    a_session,
)

from services.notifications import handlers
from services.notifications.adapters.scheduler_directory import SchedulerUnavailable
from services.notifications.adapters.transport_links import TransportUnavailable
from services.notifications.delivery_worker import CLAIM, Peers, deliver_due
from services.notifications.domain.messages import MessageStatus
from services.notifications.domain.outgoing import DeliveryFailed, ReceiptStatus
from services.notifications.domain.planning import Policy, parse_thresholds
from services.notifications.domain.rides import NoLongerAwaitingEscort
from services.notifications.domain.sending import MAX_ATTEMPTS, QuietHours, Respect
from shared.contract import CATALOGUE, Event, from_json, new_event, to_json

ZONE = ZoneInfo("America/New_York")
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # 10:00 in New York
GRACE = timedelta(minutes=2)
POLICY = Policy(grace=GRACE, reminders=parse_thresholds("48h,3h"), clinic_zone=ZONE, front_desk=True)
RESPECT = Respect(clinic_zone=ZONE, quiet_hours=QuietHours.parse("21:00-08:00"), front_desk_email="desk@clinic.test")


def event(event_type: str, **data) -> Event:
    body = {"session_id": "session-1", "patient_id": "patient-1", **data}
    return from_json(to_json(new_event(CATALOGUE[event_type], body, correlation_id="session-1").stamped_by("x")))


def booked(starts_at: datetime = START) -> Event:
    return event(
        "session.booked",
        treatment_type="iv_infusion",
        starts_at=starts_at,
        treatment_ends_at=starts_at + timedelta(minutes=45),
        recovery_ends_at=starts_at + timedelta(minutes=90),
        chair_id="chair-1",
        ride_home_mode="escort",
    )


def ride(event_type: str, *, status: str = "requested", pickup_at: datetime = START + timedelta(minutes=90), **extra):
    return event(event_type, ride_id="ride-1", pickup_at=pickup_at, mode="escort", status=status, **extra)


class Service:
    """The notifications service's consumer and delivery worker on fakes, at a clock the test moves."""

    def __init__(self, *contacts, session=None, respect: Respect = RESPECT, now: datetime = NOW):
        self.now = now
        self.uow = FakeUnitOfWork(messages=FakeMessageRepository())
        self.directory = FakeDirectory(*(contacts or (ANN,)), sessions=(session or a_session(),))
        self.links = FakeEscortLinks()
        self.sms, self.email = FakeChannel("sms"), FakeChannel("email")
        self.templates = FakeTemplates()
        self.respect = respect

    @property
    def peers(self) -> Peers:
        return Peers(self.directory, self.links, {"sms": self.sms, "email": self.email}, self.templates, self.respect)

    def handle(self, *events: Event) -> None:
        for e in events:
            handlers.plan_messages(e, uow_factory=self.uow, policy=POLICY, clock=lambda: self.now)

    def deliver(self, *, at: datetime | None = None) -> int:
        if at is not None:
            self.now = at
        return deliver_due(uow_factory=self.uow, peers=self.peers, clock=lambda: self.now)

    def session_becomes(self, **changes) -> None:
        self.directory.sessions["session-1"] = replace(self.directory.sessions["session-1"], **changes)

    def one(self, kind: str):
        [message] = self.uow.messages.of_kind(kind)
        return message

    @property
    def published(self) -> list[str]:
        return [e.type for e in self.uow.published]


def test_the_instructions_leave_once_the_grace_period_is_over_by_the_preferred_channel_with_the_text_kept():
    service = Service()
    service.handle(booked())

    early = service.deliver(at=NOW + GRACE - timedelta(seconds=1))
    service.deliver(at=NOW + GRACE)

    message = service.one("preparation_instructions")
    [sent] = service.sms.taken
    assert early == 0
    assert (sent.message_id, sent.to, sent.channel) == (message.id, ANN.phone, "sms")
    assert (message.status, message.channel, message.attempts, message.sent_at) == (
        MessageStatus.SENT,
        "sms",
        1,
        NOW + GRACE,
    )
    assert message.body == sent.body == "preparation_instructions [en] starts 2027-01-05 09:00 for Ann"
    assert service.published == ["notification.sent"]


def test_a_message_kept_in_the_local_outbox_is_stored_never_sent_and_announces_nothing():
    service = Service()
    service.sms.receipt = ReceiptStatus.STORED
    service.handle(booked())

    service.deliver(at=NOW + GRACE)

    assert service.one("preparation_instructions").status is MessageStatus.STORED
    assert service.published == []


def test_the_same_event_twice_and_the_worker_looking_twice_give_one_message():
    service = Service()
    first = booked()

    service.handle(first, first)
    service.deliver(at=NOW + GRACE)
    service.deliver(at=NOW + GRACE + timedelta(minutes=1))

    assert len(service.uow.messages.of_kind("preparation_instructions")) == 1
    assert len(service.sms.taken) == 1


def test_a_booking_corrected_within_the_grace_period_gives_one_message_with_the_final_time():
    service = Service()
    moved_to = START + timedelta(days=1)
    service.handle(booked())
    service.now += timedelta(minutes=1)
    service.handle(event("session.rescheduled", **_moved(START, moved_to)))
    service.session_becomes(
        starts_at=moved_to,
        treatment_ends_at=moved_to + timedelta(minutes=45),
        recovery_ends_at=moved_to + timedelta(minutes=90),
    )

    service.deliver(at=NOW + timedelta(minutes=10))

    assert [o.body for o in service.sms.taken] == ["preparation_instructions [en] starts 2027-01-06 09:00 for Ann"]
    assert service.uow.messages.of_kind("session_rescheduled") == []


def test_a_reschedule_after_the_instructions_sends_a_notice_with_the_new_and_the_previous_time():
    service = Service()
    service.handle(booked())
    service.deliver(at=NOW + GRACE)
    moved_to = START + timedelta(days=1)
    service.handle(event("session.rescheduled", **_moved(START, moved_to)))
    service.session_becomes(starts_at=moved_to)

    service.deliver(at=service.now + GRACE)

    assert service.sms.taken[-1].body == (
        "session_rescheduled [en] starts 2027-01-06 09:00 for Ann was 2027-01-05 09:00"
    )


def test_a_reminder_goes_at_its_threshold_and_a_reschedule_moves_it():
    service = Service()
    service.handle(booked())
    service.deliver(at=NOW + GRACE)
    moved_to = START + timedelta(days=1)
    service.handle(event("session.rescheduled", **_moved(START, moved_to)))
    service.session_becomes(starts_at=moved_to)

    service.deliver(at=START - timedelta(hours=48))  # the old 48 h mark: nothing, it was cancelled
    before = [o.body for o in service.sms.taken if o.body.startswith("reminder")]
    service.deliver(at=moved_to - timedelta(hours=48))

    assert before == []
    statuses = sorted((m.due_at, m.status, m.cancel_reason) for m in service.uow.messages.of_kind("reminder"))
    assert statuses == [
        (START - timedelta(hours=48), MessageStatus.CANCELLED, "rescheduled"),
        (moved_to - timedelta(hours=48), MessageStatus.SENT, None),
        (START - timedelta(hours=3), MessageStatus.CANCELLED, "rescheduled"),
        (moved_to - timedelta(hours=3), MessageStatus.SCHEDULED, None),
    ]


def test_a_session_cancelled_by_the_time_a_message_is_due_cancels_it_without_a_word_to_anyone():
    service = Service()
    service.handle(booked())
    service.session_becomes(status="cancelled")

    service.deliver(at=NOW + GRACE)

    message = service.one("preparation_instructions")
    assert (message.status, message.cancel_reason) == (MessageStatus.CANCELLED, "session_cancelled")
    assert service.sms.tries == [] and service.email.tries == []


def test_a_cancellation_cancels_the_reminders_and_tells_the_patient():
    service = Service()
    service.handle(booked())
    service.deliver(at=NOW + GRACE)
    service.handle(event("session.cancelled", reason="patient_request", cancelled_at=service.now))
    service.session_becomes(status="cancelled")

    service.deliver(at=START)

    assert {m.status for m in service.uow.messages.of_kind("reminder")} == {MessageStatus.CANCELLED}
    assert [o.body.split()[0] for o in service.sms.taken] == ["preparation_instructions", "session_cancelled"]


def test_opting_out_cancels_reminders_at_send_time_but_never_the_instructions_nor_the_ride_home():
    service = Service(replace(ANN, reminders_opt_out=True, preferred_channel="email"))
    service.handle(booked(), ride("ride.confirmed", status="confirmed"))

    service.deliver(at=START - timedelta(hours=3))

    statuses = {(m.kind, m.status, m.cancel_reason) for m in service.uow.messages.all}
    assert statuses == {
        ("preparation_instructions", MessageStatus.SENT, None),
        ("ride_confirmation", MessageStatus.SENT, None),
        ("reminder", MessageStatus.CANCELLED, "opted_out"),
    }


def test_a_text_due_during_quiet_hours_waits_for_the_morning_but_an_email_does_not():
    night = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # 22:00 in New York
    texter, mailer = Service(now=night), Service(replace(ANN, preferred_channel="email"), now=night)
    for service in (texter, mailer):
        service.handle(booked())
        service.deliver(at=night + GRACE)

    waiting = texter.one("preparation_instructions")
    assert waiting.status is MessageStatus.SCHEDULED
    assert waiting.next_attempt_at.astimezone(ZONE).isoformat() == "2026-12-02T08:00:00-05:00"
    assert mailer.one("preparation_instructions").status is MessageStatus.SENT
    texter.deliver(at=waiting.next_attempt_at)
    assert texter.one("preparation_instructions").status is MessageStatus.SENT


def test_the_escort_is_told_at_night_that_the_patient_is_ready_when_the_pickup_is_close():
    late = START.replace(hour=2)  # 21:00 in New York
    service = Service(session=a_session(starts_at=late - timedelta(minutes=90)), now=late)
    service.handle(ride("ride.dispatched", status="dispatched", pickup_at=late))

    service.deliver(at=late)

    assert service.one("escort_patient_ready").status is MessageStatus.SENT
    assert [o.to for o in service.sms.taken] == [BO.phone]


def test_the_escorts_request_asks_transport_for_the_link_only_when_it_is_sent():
    service = Service()
    service.handle(ride("ride.requested"))
    asked_when_planned = list(service.links.asked)

    service.deliver()

    [text] = service.sms.taken
    assert asked_when_planned == []
    assert service.links.asked == ["ride-1"]
    assert (text.to, service.links.url_for("ride-1") in text.body) == (BO.phone, True)
    assert service.one("escort_ride_request").recipient == "escort"


def test_a_ride_that_no_longer_waits_for_its_escort_cancels_the_request():
    service = Service()
    service.links.answer("ride-1", NoLongerAwaitingEscort())
    service.handle(ride("ride.requested"))

    service.deliver()

    message = service.one("escort_ride_request")
    assert (message.status, message.cancel_reason) == (MessageStatus.CANCELLED, "no_longer_awaiting_escort")
    assert service.sms.tries == []


@pytest.mark.parametrize(
    "away", ["transport", "scheduler"], ids=["transport gives no link", "the scheduler cannot be asked"]
)
def test_a_dependency_away_makes_the_message_wait_and_it_goes_once_it_is_back(away):
    service = Service()
    service.handle(ride("ride.requested"))
    if away == "transport":
        service.links.answer("ride-1", TransportUnavailable("transport answered 503"))
    else:
        service.directory.unavailable = SchedulerUnavailable("the scheduler answered 503")

    service.deliver()

    waiting = service.one("escort_ride_request")
    assert waiting.status is MessageStatus.SCHEDULED
    assert NOW < waiting.next_attempt_at <= NOW + timedelta(minutes=1)
    assert waiting.last_error.startswith("dependency:") and service.sms.tries == []
    service.links.answer("ride-1", None)
    service.directory.unavailable = None
    service.deliver(at=waiting.next_attempt_at)
    assert service.one("escort_ride_request").status is MessageStatus.SENT


def test_a_number_refused_for_good_falls_back_to_email_once_with_the_calendar_attached():
    service = Service()
    service.sms.failures = [DeliveryFailed("number_refused", permanent=True)]
    service.handle(booked())

    service.deliver(at=NOW + GRACE)

    message = service.one("preparation_instructions")
    [mail] = service.email.taken
    assert (message.status, message.channel, message.fell_back) == (MessageStatus.SENT, "email", True)
    assert message.last_error == "sms:permanent:number_refused"
    assert (mail.to, mail.message_id, mail.subject) == (ANN.email, message.id, "preparation_instructions subject")
    assert [(a.filename, a.content_type) for a in mail.attachments] == [("session-session-1.ics", "text/calendar")]


def test_a_patient_without_email_whose_number_is_refused_for_good_gets_notification_failed_and_no_crash():
    service = Service(replace(ANN, email=None))
    service.sms.failures = [DeliveryFailed("number_refused", permanent=True)]
    service.handle(booked())

    service.deliver(at=NOW + GRACE)

    message = service.one("preparation_instructions")
    assert (message.status, message.last_error) == (MessageStatus.FAILED, "sms:permanent:number_refused")
    assert service.published == ["notification.failed"]
    assert service.uow.published[0].data["reason"] == "sms:permanent:number_refused"


def test_a_preferred_email_without_an_address_goes_by_sms():
    service = Service(replace(ANN, preferred_channel="email", email=None))
    service.handle(booked())

    service.deliver(at=NOW + GRACE)

    assert (service.one("preparation_instructions").channel, len(service.sms.taken)) == ("sms", 1)


def test_a_temporary_failure_is_tried_again_after_a_jittered_backoff_and_fails_after_the_limit():
    service = Service()
    service.sms.failures = [DeliveryFailed("gateway_503", permanent=False)] * MAX_ATTEMPTS
    service.handle(booked())

    service.deliver(at=NOW + GRACE)
    waiting = service.one("preparation_instructions")
    for _ in range(MAX_ATTEMPTS - 1):
        service.deliver(at=service.one("preparation_instructions").next_attempt_at)

    message = service.one("preparation_instructions")
    assert (waiting.status, waiting.attempts) == (MessageStatus.SCHEDULED, 1)
    assert NOW + GRACE + timedelta(seconds=15) <= waiting.next_attempt_at <= NOW + GRACE + timedelta(seconds=30)
    assert (message.status, message.attempts, len(service.sms.tries)) == (MessageStatus.FAILED, MAX_ATTEMPTS, 6)
    assert service.email.tries == [], "a passing failure is no reason to change channel"
    assert service.published == ["notification.failed"]


def test_a_crash_between_sending_and_recording_sends_the_same_message_again_under_the_same_id():
    service = Service()
    service.sms = CrashingChannel("sms")
    service.handle(booked())
    with pytest.raises(ProcessCrashed):
        service.deliver(at=NOW + GRACE)
    in_flight = service.one("preparation_instructions")
    gateway = service.sms = IdempotentGateway("sms")
    service.directory.contacts["patient-1"] = replace(ANN, name="Annabel Lee")  # changed since: the text is kept

    service.deliver(at=NOW + GRACE + CLAIM + timedelta(seconds=1))

    message = service.one("preparation_instructions")
    [again] = gateway.tries
    assert in_flight.status is MessageStatus.SENDING
    assert (again.message_id, again.body) == (in_flight.id, in_flight.body)
    assert gateway.texts_sent == [in_flight.id]
    assert (message.status, message.attempts) == (MessageStatus.SENT, 2)


def test_a_message_in_flight_is_not_taken_by_another_worker_before_its_claim_runs_out():
    service = Service()
    service.sms = CrashingChannel("sms")
    service.handle(booked())
    with pytest.raises(ProcessCrashed):
        service.deliver(at=NOW + GRACE)
    service.sms = FakeChannel("sms")

    assert service.deliver(at=NOW + GRACE + timedelta(seconds=10)) == 0
    assert service.sms.tries == []


def test_the_patients_language_is_used_for_the_patient_and_the_escort_and_english_for_the_front_desk():
    service = Service(replace(ANN, language="es"))
    service.handle(booked(), ride("ride.requested"), ride("ride.at_risk", at_risk="2h"))

    service.deliver(at=NOW + GRACE)

    languages = {kind: language for kind, _, language, _ in service.templates.rendered}
    assert languages == {"preparation_instructions": "es", "escort_ride_request": "es", "ride_at_risk": "en"}
    [alert] = service.email.taken
    assert alert.to == "desk@clinic.test"
    [alert_context] = [context for kind, _, _, context in service.templates.rendered if kind == "ride_at_risk"]
    assert (alert_context.patient_first_name, alert_context.session_id, alert_context.at_risk) == (
        None,
        "session-1",
        "2h",
    )


def test_the_context_gives_the_arrival_the_pickup_and_the_lengths_in_the_clinics_zone():
    service = Service()
    service.handle(booked())

    service.deliver(at=NOW + GRACE)

    [(_, _, _, context)] = service.templates.rendered
    assert context.arrive_by.isoformat() == "2027-01-05T08:45:00-05:00"
    assert context.pickup_at.isoformat() == "2027-01-05T10:30:00-05:00"
    assert (context.treatment_minutes, context.recovery_minutes) == (45, 45)
    assert (context.clinic_name, context.treatment_label, context.escort_first_name) == (
        CLINIC.name,
        "IV ketamine infusion",
        "Bo",
    )


def test_no_log_line_and_no_event_holds_a_name_a_phone_an_address_a_link_or_the_text(caplog):
    caplog.set_level(logging.DEBUG)
    service = Service()
    service.sms.failures = [DeliveryFailed("number_refused", permanent=True)]
    service.handle(booked(), ride("ride.requested"))

    service.deliver(at=NOW + GRACE)

    secrets = ("Ann", "Lee", "Bo ", ANN.phone, ANN.email, BO.phone, "tok-ride-1", "starts 2027")
    lines = [r.getMessage() for r in caplog.records] + [repr(dict(e.data)) for e in service.uow.published]
    assert [line for line in lines if any(s in line for s in secrets)] == []
    assert len(lines) >= 4


def _moved(previous: datetime, to: datetime) -> dict:
    return {
        "previous_starts_at": previous,
        "previous_recovery_ends_at": previous + timedelta(minutes=90),
        "starts_at": to,
        "treatment_ends_at": to + timedelta(minutes=45),
        "recovery_ends_at": to + timedelta(minutes=90),
        "chair_id": "chair-1",
        "ride_home_mode": "escort",
    }
