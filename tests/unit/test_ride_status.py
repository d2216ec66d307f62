"""The scheduler keeps each session's ride status from transport's ride.* events: the newest report wins whatever order
the events arrive in, each event counts once, and an event for a session the scheduler never booked is poison."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from fakes import FakeSessionRepository, FakeUnitOfWork, ride_reported

from services.scheduler import handlers
from services.scheduler.consumer import event_handlers
from services.scheduler.domain.clinic import WEEKDAYS, Clinic, Clinician, TreatmentType, WeeklyHours
from services.scheduler.domain.rides import RideReport, RideStatus, ride_status_after
from services.scheduler.domain.schedule import Placement
from services.scheduler.domain.sessions import BookingRequest, RideHome, RideHomeMode, book
from shared.messaging import PoisonMessage
from shared.messaging.topology import SCHEDULER_QUEUE

IV = TreatmentType("iv_infusion", "IV ketamine infusion", 45, 45, 15, ride_home_required=True)
HOURS = WeeklyHours(tuple(((time(8), time(20)),) for _ in WEEKDAYS))
CLINIC = Clinic(
    "Test Clinic",
    ZoneInfo("America/New_York"),
    ("chair-1",),
    {"iv_infusion": IV},
    HOURS,
    (Clinician("dr-a", "Dr. A", HOURS),),
)
START = datetime(2027, 1, 5, 15, 0, tzinfo=UTC)
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LATER = T0 + timedelta(minutes=5)
EARLIER = T0 - timedelta(minutes=5)


def report(event_type: str, status: str | None = None, at: datetime = T0) -> RideReport:
    if status is None:
        status = (
            event_type.removeprefix("ride.") if event_type not in ("ride.at_risk", "ride.rescheduled") else "requested"
        )
    return RideReport(event_type, status, at)


# --- the reducer -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event_type, status",
    [
        ("ride.requested", RideStatus.REQUESTED),
        ("ride.confirmed", RideStatus.CONFIRMED),
        ("ride.declined", RideStatus.DECLINED),
        ("ride.at_risk", RideStatus.AT_RISK),
        ("ride.dispatched", RideStatus.DISPATCHED),
        ("ride.completed", RideStatus.COMPLETED),
        ("ride.cancelled", RideStatus.CANCELLED),
    ],
)
def test_the_first_report_of_a_ride_sets_the_status_its_event_names(event_type, status):
    assert ride_status_after(None, None, report(event_type)) is status


@pytest.mark.parametrize("status", ["requested", "confirmed"])
def test_a_rescheduled_ride_takes_the_status_transport_reports_after_the_move(status):
    assert ride_status_after(RideStatus.CONFIRMED, EARLIER, report("ride.rescheduled", status)) == status


@pytest.mark.parametrize("current", [None, RideStatus.REQUESTED, RideStatus.DECLINED, RideStatus.AT_RISK])
@pytest.mark.parametrize("reported", ["requested", "declined"])
def test_a_ride_still_unconfirmed_when_a_threshold_passes_is_at_risk(current, reported):
    assert ride_status_after(current, EARLIER, report("ride.at_risk", reported)) is RideStatus.AT_RISK


@pytest.mark.parametrize("reported", ["confirmed", "dispatched", "completed", "cancelled"])
def test_an_at_risk_report_of_a_ride_confirmed_or_ended_changes_nothing(reported):
    assert ride_status_after(RideStatus.CONFIRMED, EARLIER, report("ride.at_risk", reported)) is None


def test_a_confirmation_after_the_ride_was_at_risk_makes_it_confirmed():
    assert ride_status_after(RideStatus.AT_RISK, EARLIER, report("ride.confirmed")) is RideStatus.CONFIRMED


@pytest.mark.parametrize("event_type", ["ride.requested", "ride.at_risk", "ride.declined", "ride.rescheduled"])
def test_a_report_older_than_the_one_applied_changes_nothing(event_type):
    assert ride_status_after(RideStatus.CONFIRMED, T0, report(event_type, at=EARLIER)) is None


def test_a_report_as_old_as_the_one_applied_is_applied_in_the_order_it_arrived():
    assert ride_status_after(RideStatus.DISPATCHED, T0, report("ride.completed", at=T0)) is RideStatus.COMPLETED


def test_reports_applied_in_any_order_end_with_the_newest():
    reports = [
        report("ride.requested", at=T0),
        report("ride.at_risk", at=T0 + timedelta(hours=1)),
        report("ride.confirmed", at=T0 + timedelta(hours=2)),
        report("ride.dispatched", at=T0 + timedelta(hours=3)),
    ]
    for order in ([0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 0, 2]):
        status, at = None, None
        for index in order:
            after = ride_status_after(status, at, reports[index])
            if after is not None:
                status, at = after, reports[index].occurred_at
        assert (status, at) == (RideStatus.DISPATCHED, T0 + timedelta(hours=3)), order


# --- the use case ------------------------------------------------------------------------------------------------


def booked_session(session_id: str = "session-1"):
    ride_home = RideHome(RideHomeMode.PROVIDER, dropoff_address="12 Elm Street, Jacksonville, FL 32204")
    request = BookingRequest(session_id, "patient-1", "iv_infusion", START, ride_home)
    placement = Placement(
        "iv_infusion", START, START + IV.treatment, START + IV.in_chair, START + IV.chair_hold, "chair-1", "dr-a"
    )
    session, _ = book(request, placement, clinic=CLINIC, now=T0 - timedelta(days=30))
    return session


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork(sessions=FakeSessionRepository(booked_session()))


def test_a_ride_event_stores_the_sessions_ride_status_and_when_it_happened_through_the_row_lock(uow):
    event = ride_reported("session-1", "ride.confirmed", occurred_at=T0, mode="provider")

    handlers.record_ride_status(event, uow=uow)

    stored = uow.sessions.get("session-1")
    assert (stored.ride_status, stored.ride_status_at) == (RideStatus.CONFIRMED, T0)
    assert uow.sessions.calls == ["lock session session-1"]
    assert uow.inbox.processed == {event.event_id}
    assert uow.committed == 1
    assert uow.published == []  # the scheduler only listens: nothing goes back out


def test_the_same_event_delivered_twice_counts_once(uow):
    confirmed = ride_reported("session-1", "ride.confirmed", occurred_at=T0)
    handlers.record_ride_status(confirmed, uow=uow)
    handlers.record_ride_status(ride_reported("session-1", "ride.requested", occurred_at=EARLIER), uow=uow)
    # A replay of the confirmation after a newer change must not bring it back.
    handlers.record_ride_status(ride_reported("session-1", "ride.cancelled", occurred_at=LATER), uow=uow)

    handlers.record_ride_status(confirmed, uow=uow)

    assert uow.sessions.get("session-1").ride_status is RideStatus.CANCELLED
    assert uow.committed == 3


def test_an_event_older_than_the_applied_one_is_recorded_as_handled_but_changes_nothing(uow):
    handlers.record_ride_status(ride_reported("session-1", "ride.confirmed", occurred_at=T0), uow=uow)
    older = ride_reported("session-1", "ride.at_risk", occurred_at=EARLIER, at_risk="24h")

    handlers.record_ride_status(older, uow=uow)

    stored = uow.sessions.get("session-1")
    assert (stored.ride_status, stored.ride_status_at) == (RideStatus.CONFIRMED, T0)
    assert older.event_id in uow.inbox.processed


def test_a_ride_event_for_a_session_the_scheduler_does_not_know_is_poison_and_stores_nothing(uow):
    event = ride_reported("no-such-session", "ride.confirmed")

    with pytest.raises(PoisonMessage) as poison:
        handlers.record_ride_status(event, uow=uow)

    assert "no-such-session" in str(poison.value)
    assert uow.inbox.processed == set() and uow.committed == 0


def test_the_consumer_hands_every_ride_event_of_its_queue_to_the_ride_status_use_case(uow):
    handled = event_handlers(uow)

    assert set(handled) == set(SCHEDULER_QUEUE.routing_keys)
    for minutes, event_type in enumerate(sorted(handled)):
        at = T0 + timedelta(minutes=minutes)
        handled[event_type](ride_reported("session-1", event_type, occurred_at=at, at_risk="2h"))
        assert uow.sessions.get("session-1").ride_status_at == at, event_type
