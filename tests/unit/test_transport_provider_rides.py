"""Provider mode without the network: a pending request written with the ride, carried out by the worker after the
commit; an outage postpones it (backing off, capped) and loses nothing; a refusal declines the ride; a crash between
the provider's answer and our commit books no second driver; the session's changes follow; webhooks repeat and
overtake each other without moving a ride backwards."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from unit.fakes_transport import FakeDirectory, FakeRideProvider, transport_uow
from unit.test_transport_handlers import (
    session_booked,
    session_cancelled,
    session_discharged,
    session_no_show,
    session_rescheduled,
)

from services.transport import handlers
from services.transport.domain.provider import WebhookNotice
from services.transport.domain.provider_requests import MAX_BACKOFF, ProviderAction, backoff
from services.transport.domain.rides import RideStatus
from services.transport.provider_worker import carry_out, claim, due_requests, work_once

START = datetime(2027, 1, 5, 14, 0, tzinfo=UTC)
NOW = START - timedelta(days=3)


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world():
    uow, provider, directory, clock = transport_uow(), FakeRideProvider(), FakeDirectory(), Clock(NOW)

    def work() -> int:
        return work_once(uow_factory=uow, provider=provider, places=directory, clock=clock)

    return uow, provider, directory, clock, work


def booked(uow, **overrides):
    event = session_booked(ride_home_mode="provider", **overrides)
    handlers.request_ride(event, uow=uow, now=NOW)
    return uow.rides.for_session(event.data["session_id"])[0]


def types(uow) -> list[str]:
    return [e.type for e in uow.published]


def test_a_provider_ride_is_requested_with_a_pending_booking_and_no_call_in_the_handler(world):
    uow, provider, *_ = world

    ride = booked(uow)

    assert ride.status is RideStatus.REQUESTED
    assert [(r.action, r.round, r.done_at) for r in uow.provider_requests.all] == [(ProviderAction.BOOK, 1, None)]
    assert provider.calls == []
    assert types(uow) == ["ride.requested"]


def test_the_worker_books_a_will_call_ride_once_and_confirms_the_ride(world):
    uow, provider, directory, clock, work = world
    ride = booked(uow)

    assert work() == 1
    assert work() == 0

    [booking] = provider.bookings
    assert (booking.ride_id, booking.pickup_at, booking.will_call) == (ride.id, ride.pickup_at, True)
    assert (booking.pickup_address, booking.dropoff_address) == (
        "1 Main Street, Springfield",
        "22 Elm Road, Springfield",
    )
    assert provider.calls == [("book", f"{ride.id}-book-1")]
    stored = uow.rides.get(ride.id)
    assert (stored.status, stored.provider_ride_id, stored.provider_status) == (
        RideStatus.CONFIRMED,
        "pr-1",
        "will_call",
    )
    assert types(uow) == ["ride.requested", "ride.confirmed"]
    assert uow.provider_requests.all[0].outcome == "accepted"


def test_while_the_provider_is_down_the_booking_waits_with_growing_delays_and_goes_out_once_it_is_back(world):
    uow, provider, directory, clock, work = world
    ride = booked(uow)
    provider.down = True

    delays = []
    for _ in range(8):
        work()
        [request] = uow.provider_requests.all
        delays.append(request.next_attempt_at - clock.now)
        clock.now = request.next_attempt_at
    assert request.attempts == 8 and request.done_at is None
    assert all(delay <= MAX_BACKOFF for delay in delays)
    assert delays[-1] > delays[0]
    assert uow.rides.get(ride.id).status is RideStatus.REQUESTED

    provider.down = False
    work()

    assert uow.rides.get(ride.id).status is RideStatus.CONFIRMED
    assert len(provider.bookings) == 1
    assert {key for _, key in provider.calls} == {f"{ride.id}-book-1"}


def test_a_postponed_request_is_not_tried_before_its_time(world):
    uow, provider, directory, clock, work = world
    booked(uow)
    provider.down = True
    work()

    assert work() == 0
    assert len(provider.calls) == 1


def test_the_backoff_is_exponential_with_jitter_and_capped_at_a_minute():
    rng = random.Random(7)
    ceilings = [backoff(n, rng=rng) for n in range(1, 12)]

    assert all(timedelta(0) < d <= MAX_BACKOFF for d in ceilings)
    assert backoff(1, rng=random.Random(1)) <= timedelta(seconds=1)
    assert backoff(30, rng=random.Random(1)) >= MAX_BACKOFF / 2


def test_an_unavailable_scheduler_postpones_the_booking_like_an_outage(world):
    uow, provider, directory, clock, work = world
    booked(uow)
    directory.available = False

    work()

    [request] = uow.provider_requests.all
    assert (request.attempts, request.done_at) == (1, None)
    assert provider.calls == []


def test_a_refused_booking_declines_the_ride_and_puts_it_at_risk(world):
    uow, provider, directory, clock, work = world
    ride = booked(uow)
    provider.refuse.add("book")

    work()

    assert uow.rides.get(ride.id).status is RideStatus.DECLINED
    assert types(uow) == ["ride.requested", "ride.declined", "ride.at_risk"]
    assert uow.published[-1].data["at_risk"] == "declined"
    assert uow.provider_requests.all[0].outcome == "refused:not_serviceable"


def test_a_crash_between_the_provider_s_answer_and_the_commit_books_no_second_driver(world):
    uow, provider, directory, clock, work = world
    ride = booked(uow)
    [request] = due_requests(uow=uow, now=clock.now)
    claimed = claim(request, uow=uow, now=clock.now)
    carry_out(request, claimed, provider=provider, places=directory)  # answered; the process dies before recording
    assert work() == 0  # another worker leaves the claimed row alone while the claim holds

    clock.now += timedelta(minutes=5)
    assert work() == 1

    assert len(provider.rides) == 1
    assert provider.calls == [("book", f"{ride.id}-book-1")] * 2
    assert uow.rides.get(ride.id).provider_ride_id == "pr-1"
    assert types(uow) == ["ride.requested", "ride.confirmed"]


def test_a_reschedule_moves_the_provider_s_ride_and_confirms_it_again(world):
    uow, provider, directory, clock, work = world
    ride = booked(uow)
    work()

    handlers.reschedule_rides(
        session_rescheduled(session_id=ride.session_id, ride_home_mode="provider"), uow=uow, now=NOW
    )
    assert uow.rides.get(ride.id).status is RideStatus.REQUESTED
    work()

    moved = uow.rides.get(ride.id)
    assert (moved.status, moved.round, moved.provider_ride_id) == (RideStatus.CONFIRMED, 2, "pr-1")
    assert provider.calls[-1] == ("move", f"{ride.id}-move-2")
    assert types(uow) == ["ride.requested", "ride.confirmed", "ride.rescheduled", "ride.confirmed"]


def test_a_move_the_provider_refuses_books_a_new_ride_instead(world):
    uow, provider, directory, clock, work = world
    ride = booked(uow)
    work()
    provider.refuse.add("move")

    handlers.reschedule_rides(
        session_rescheduled(session_id=ride.session_id, ride_home_mode="provider"), uow=uow, now=NOW
    )
    work()

    assert [op for op, _ in provider.calls] == ["book", "move", "cancel", "book"]
    assert provider.calls[-1] == ("book", f"{ride.id}-rebook-2")
    assert uow.rides.get(ride.id).provider_ride_id == "pr-2"
    assert uow.rides.get(ride.id).status is RideStatus.CONFIRMED


def test_a_reschedule_before_the_first_booking_went_out_books_once_for_the_new_time(world):
    uow, provider, directory, clock, work = world
    ride = booked(uow)
    handlers.reschedule_rides(
        session_rescheduled(session_id=ride.session_id, ride_home_mode="provider"), uow=uow, now=NOW
    )

    work()
    work()

    assert provider.calls == [("book", f"{ride.id}-book-2")]
    assert provider.bookings[0].pickup_at == uow.rides.get(ride.id).pickup_at
    assert [r.outcome for r in uow.provider_requests.all] == ["superseded", "accepted"]


@pytest.mark.parametrize("ending", [session_cancelled, session_no_show], ids=["cancelled", "no-show"])
def test_a_cancelled_or_missed_session_cancels_the_provider_s_ride_too(world, ending):
    uow, provider, directory, clock, work = world
    ride = booked(uow)
    work()

    handlers.cancel_rides(ending(session_id=ride.session_id), uow=uow, now=NOW)
    work()

    assert uow.rides.get(ride.id).status is RideStatus.CANCELLED
    assert provider.calls[-1] == ("cancel", f"{ride.id}-cancel-1")


def test_a_session_cancelled_before_its_booking_went_out_calls_the_provider_for_nothing(world):
    uow, provider, directory, clock, work = world
    ride = booked(uow)
    handlers.cancel_rides(session_cancelled(session_id=ride.session_id), uow=uow, now=NOW)

    work()
    work()

    assert provider.calls == []
    assert [r.outcome for r in uow.provider_requests.all] == ["superseded", "not_booked"]


def test_a_discharge_dispatches_the_will_call_ride_now(world):
    uow, provider, directory, clock, work = world
    ride = booked(uow)
    work()
    released = START + timedelta(minutes=70)
    clock.now = released

    handlers.dispatch_rides(
        session_discharged(session_id=ride.session_id, discharged_at=released, ride_home_mode="provider"),
        uow=uow,
        now=released,
    )
    work()

    dispatched = uow.rides.get(ride.id)
    assert (dispatched.status, dispatched.pickup_at) == (RideStatus.DISPATCHED, released)
    assert provider.calls[-1] == ("dispatch", f"{ride.id}-dispatch-1")
    assert types(uow)[-1] == "ride.dispatched"


# --- webhooks ------------------------------------------------------------------------------------------------------


def notice(ride, type_: str, status: str, *, id_: str, provider_ride_id: str = "pr-1") -> WebhookNotice:
    return WebhookNotice(id_, type_, provider_ride_id, ride.id, status, NOW)


@pytest.fixture
def dispatched(world):
    uow, provider, directory, clock, work = world
    ride = booked(uow)
    work()
    clock.now = START
    handlers.dispatch_rides(
        session_discharged(session_id=ride.session_id, ride_home_mode="provider"), uow=uow, now=START
    )
    work()
    assert provider.calls[-1][0] == "dispatch"
    return uow, uow.rides.get(ride.id)


def test_driver_assigned_and_arrived_are_recorded_and_completed_closes_the_ride(dispatched):
    uow, ride = dispatched

    for index, (kind, status) in enumerate(
        [
            ("ride.driver_assigned", "driver_assigned"),
            ("ride.driver_arrived", "driver_arrived"),
            ("ride.completed", "completed"),
        ]
    ):
        assert handlers.receive_webhook(notice(ride, kind, status, id_=f"wh-{index}"), uow=uow, now=START) == "applied"

    closed = uow.rides.get(ride.id)
    assert (closed.status, closed.provider_status, closed.completed_at) == (RideStatus.COMPLETED, "completed", START)
    assert types(uow)[-1] == "ride.completed"


def test_a_repeated_webhook_is_applied_once(dispatched):
    uow, ride = dispatched
    completed = notice(ride, "ride.completed", "completed", id_="wh-1")

    assert handlers.receive_webhook(completed, uow=uow, now=START) == "applied"
    assert handlers.receive_webhook(completed, uow=uow, now=START) == "duplicate"

    assert types(uow).count("ride.completed") == 1


def test_webhooks_out_of_order_never_move_a_ride_backwards(dispatched):
    uow, ride = dispatched

    handlers.receive_webhook(notice(ride, "ride.completed", "completed", id_="wh-3"), uow=uow, now=START)
    handlers.receive_webhook(notice(ride, "ride.driver_arrived", "driver_arrived", id_="wh-2"), uow=uow, now=START)
    handlers.receive_webhook(notice(ride, "ride.driver_assigned", "driver_assigned", id_="wh-1"), uow=uow, now=START)
    handlers.receive_webhook(notice(ride, "ride.cancelled", "cancelled", id_="wh-4"), uow=uow, now=START)

    stored = uow.rides.get(ride.id)
    assert (stored.status, stored.provider_status) == (RideStatus.COMPLETED, "completed")
    assert types(uow).count("ride.declined") == 0


def test_a_ride_the_provider_cancels_is_declined_and_at_risk(dispatched):
    uow, ride = dispatched

    handlers.receive_webhook(notice(ride, "ride.cancelled", "cancelled", id_="wh-1"), uow=uow, now=START)

    assert uow.rides.get(ride.id).status is RideStatus.DECLINED
    assert types(uow)[-2:] == ["ride.declined", "ride.at_risk"]


def test_a_webhook_about_an_earlier_booking_or_an_unknown_ride_changes_nothing(dispatched):
    uow, ride = dispatched

    stale = notice(ride, "ride.cancelled", "cancelled", id_="wh-1", provider_ride_id="pr-old")
    assert handlers.receive_webhook(stale, uow=uow, now=START) == "applied"
    unknown = WebhookNotice("wh-2", "ride.completed", "pr-9", "no-such-ride", "completed", NOW)
    assert handlers.receive_webhook(unknown, uow=uow, now=START) == "unknown_ride"

    assert uow.rides.get(ride.id).status is RideStatus.DISPATCHED
    assert types(uow)[-1] == "ride.dispatched"


# --- tombstones ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ending", [session_cancelled, session_no_show], ids=["cancelled", "no-show"])
def test_a_booking_that_arrives_after_its_session_ended_creates_no_ride(ending):
    uow = transport_uow()
    handlers.cancel_rides(ending(session_id="session-late"), uow=uow, now=NOW)

    handlers.request_ride(session_booked(session_id="session-late"), uow=uow, now=NOW)

    assert uow.rides.all == []
    assert uow.published == []
    assert uow.provider_requests.all == []
