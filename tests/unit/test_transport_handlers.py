"""The transport service's use cases: a ride home for every session that needs one, each event handled once."""

from datetime import UTC, datetime, timedelta

import pytest
from fakes import FakeUnitOfWork
from unit.fakes_transport import transport_uow

from services.transport import handlers
from services.transport.consumer import event_handlers
from services.transport.domain.rides import RideStatus
from shared.contract import (
    SESSION_BOOKED,
    SESSION_CANCELLED,
    SESSION_DISCHARGED,
    SESSION_NO_SHOW,
    SESSION_RESCHEDULED,
    Event,
    from_json,
    new_event,
    to_json,
)
from shared.messaging.topology import TRANSPORT_QUEUE

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
START = datetime(2027, 1, 5, 14, 0, tzinfo=UTC)
NEW_START = datetime(2027, 1, 7, 16, 30, tzinfo=UTC)
RIDE_DATA_FIELDS = {"ride_id", "session_id", "pickup_at", "mode", "status", "patient_id", "session_starts_at"}


def session_booked(*, session_id: str = "session-1", ride_home_mode: str = "escort") -> Event:
    """As the consumer receives it: through the JSON of the contract."""
    event = new_event(
        SESSION_BOOKED,
        {
            "session_id": session_id,
            "patient_id": "patient-1",
            "treatment_type": "iv_infusion" if ride_home_mode == "escort" else "intake_assessment",
            "starts_at": START,
            "treatment_ends_at": START + timedelta(minutes=45),
            "recovery_ends_at": START + timedelta(minutes=90),
            "chair_id": "chair-1",
            "ride_home_mode": ride_home_mode,
        },
        correlation_id=session_id,
    )
    return from_json(to_json(event.stamped_by("scheduler")))


def session_cancelled(*, session_id: str = "session-1") -> Event:
    event = new_event(
        SESSION_CANCELLED,
        {"session_id": session_id, "patient_id": "patient-1", "reason": None, "cancelled_at": NOW},
        correlation_id=session_id,
    )
    return from_json(to_json(event.stamped_by("scheduler")))


def session_rescheduled(
    *, session_id: str = "session-1", starts_at: datetime = NEW_START, ride_home_mode: str = "escort"
) -> Event:
    event = new_event(
        SESSION_RESCHEDULED,
        {
            "session_id": session_id,
            "patient_id": "patient-1",
            "previous_starts_at": START,
            "previous_recovery_ends_at": START + timedelta(minutes=90),
            "starts_at": starts_at,
            "treatment_ends_at": starts_at + timedelta(minutes=45),
            "recovery_ends_at": starts_at + timedelta(minutes=90),
            "chair_id": "chair-2",
            "clinician_id": "clinician-1",
            "ride_home_mode": ride_home_mode,
        },
        correlation_id=session_id,
    )
    return from_json(to_json(event.stamped_by("scheduler")))


def session_no_show(*, session_id: str = "session-1") -> Event:
    event = new_event(
        SESSION_NO_SHOW,
        {
            "session_id": session_id,
            "patient_id": "patient-1",
            "starts_at": START,
            "recorded_at": START + timedelta(minutes=30),
        },
        correlation_id=session_id,
    )
    return from_json(to_json(event.stamped_by("scheduler")))


def session_discharged(
    *,
    session_id: str = "session-1",
    discharged_at: datetime = START + timedelta(minutes=75),
    ride_home_mode: str = "escort",
) -> Event:
    event = new_event(
        SESSION_DISCHARGED,
        {
            "session_id": session_id,
            "patient_id": "patient-1",
            "discharged_at": discharged_at,
            "planned_recovery_ends_at": START + timedelta(minutes=90),
            "ride_home_mode": ride_home_mode,
        },
        correlation_id=session_id,
    )
    return from_json(to_json(event.stamped_by("scheduler")))


def test_a_booked_session_gets_one_ride_requested_for_when_its_recovery_ends():
    uow = transport_uow()
    event = session_booked()

    handlers.request_ride(event, uow=uow, now=NOW)

    [ride] = uow.rides.all
    assert ride.session_id == "session-1"
    assert ride.patient_id == "patient-1"
    assert ride.status is RideStatus.REQUESTED
    assert ride.pickup_at == event.data["recovery_ends_at"] == START + timedelta(minutes=90)
    assert ride.mode == "escort"
    assert ride.requested_at == NOW
    assert [e.type for e in uow.published] == ["ride.requested"]
    assert dict(uow.published[0].data) == {
        "ride_id": ride.id,
        "session_id": "session-1",
        "pickup_at": ride.pickup_at,
        "mode": "escort",
        "status": "requested",
        "patient_id": "patient-1",
        "session_starts_at": START,
    }
    assert uow.published[0].correlation_id == "session-1"
    assert uow.inbox.processed == {event.event_id}


def test_the_same_session_booked_event_twice_gives_one_ride_and_one_event():
    uow = transport_uow()
    event = session_booked()

    handlers.request_ride(event, uow=uow, now=NOW)
    handlers.request_ride(event, uow=uow, now=NOW + timedelta(seconds=5))

    assert len(uow.rides.all) == 1
    assert [e.type for e in uow.published] == ["ride.requested"]


def test_a_second_session_booked_for_the_same_session_with_another_event_id_gives_no_second_ride():
    uow = transport_uow()
    first, second = session_booked(), session_booked()
    assert first.event_id != second.event_id

    handlers.request_ride(first, uow=uow, now=NOW)
    handlers.request_ride(second, uow=uow, now=NOW)

    assert len(uow.rides.all) == 1
    assert len(uow.published) == 1
    assert uow.inbox.processed == {first.event_id, second.event_id}


def test_two_sessions_get_a_ride_each():
    uow = transport_uow()

    handlers.request_ride(session_booked(session_id="session-1"), uow=uow, now=NOW)
    handlers.request_ride(session_booked(session_id="session-2"), uow=uow, now=NOW)

    assert sorted(r.session_id for r in uow.rides.all) == ["session-1", "session-2"]
    assert len(uow.published) == 2


def test_an_intake_with_ride_home_mode_none_gets_no_ride_but_the_event_is_recorded_as_handled():
    uow = transport_uow()
    event = session_booked(ride_home_mode="none")

    handlers.request_ride(event, uow=uow, now=NOW)

    assert uow.rides.all == []
    assert uow.published == []
    assert uow.inbox.processed == {event.event_id}


def test_a_cancelled_session_cancels_its_ride_and_emits_ride_cancelled():
    uow = transport_uow()
    handlers.request_ride(session_booked(), uow=uow, now=NOW)
    cancelled_at = NOW + timedelta(hours=2)

    handlers.cancel_rides(session_cancelled(), uow=uow, now=cancelled_at)

    [ride] = uow.rides.all
    assert ride.status is RideStatus.CANCELLED
    assert ride.cancelled_at == cancelled_at
    assert [e.type for e in uow.published] == ["ride.requested", "ride.cancelled"]
    assert uow.published[1].data["ride_id"] == ride.id
    assert uow.published[1].data["status"] == "cancelled"


def test_cancelling_again_emits_nothing_more():
    uow = transport_uow()
    handlers.request_ride(session_booked(), uow=uow, now=NOW)
    cancellation = session_cancelled()

    handlers.cancel_rides(cancellation, uow=uow, now=NOW)
    handlers.cancel_rides(cancellation, uow=uow, now=NOW)  # the same event redelivered
    handlers.cancel_rides(session_cancelled(), uow=uow, now=NOW)  # another cancellation of the same session

    assert [e.type for e in uow.published] == ["ride.requested", "ride.cancelled"]
    assert uow.rides.all[0].status is RideStatus.CANCELLED


def test_cancelling_a_session_without_a_ride_leaves_only_a_tombstone_and_the_record_of_the_event():
    uow = transport_uow()
    event = session_cancelled(session_id="session-without-ride")

    handlers.cancel_rides(event, uow=uow, now=NOW)

    assert uow.rides.all == []
    assert uow.published == []
    assert uow.tombstones.sessions == {"session-without-ride": "session.cancelled"}
    assert uow.inbox.processed == {event.event_id}


def test_listing_rides_for_a_session_gives_only_its_rides():
    uow = transport_uow()
    handlers.request_ride(session_booked(session_id="session-1"), uow=uow, now=NOW)
    handlers.request_ride(session_booked(session_id="session-2"), uow=uow, now=NOW)

    rides = handlers.list_rides(session_id="session-2", uow=uow)

    assert [r.session_id for r in rides] == ["session-2"]
    day = (START, START + timedelta(days=1))
    assert len(handlers.list_rides(window=day, uow=uow)) == 2


def booked_with_a_ride(uow: FakeUnitOfWork, *, session_id: str = "session-1"):
    handlers.request_ride(session_booked(session_id=session_id), uow=uow, now=NOW)
    [ride] = uow.rides.for_session(session_id)
    return ride


# --- session.rescheduled -------------------------------------------------------------------------------------------


def test_a_rescheduled_session_moves_its_ride_to_the_new_end_of_recovery_and_emits_ride_rescheduled():
    uow = transport_uow()
    requested = booked_with_a_ride(uow)
    event = session_rescheduled()

    handlers.reschedule_rides(event, uow=uow, now=NOW + timedelta(hours=1))

    [ride] = uow.rides.all
    assert ride.id == requested.id
    assert ride.pickup_at == event.data["recovery_ends_at"] == NEW_START + timedelta(minutes=90)
    assert ride.status is RideStatus.REQUESTED
    assert ride.requested_at == NOW
    assert ride.round == 2  # the escort is asked again, about the new time
    assert ride.session_starts_at == NEW_START
    assert [e.type for e in uow.published] == ["ride.requested", "ride.rescheduled"]
    rescheduled = uow.published[1]
    assert dict(rescheduled.data) == {
        "ride_id": ride.id,
        "session_id": "session-1",
        "pickup_at": NEW_START + timedelta(minutes=90),
        "mode": "escort",
        "status": "requested",
        "patient_id": "patient-1",
        "session_starts_at": NEW_START,
    }
    assert rescheduled.correlation_id == "session-1"
    assert event.event_id in uow.inbox.processed


def test_the_same_session_rescheduled_event_twice_moves_the_ride_once():
    uow = transport_uow()
    booked_with_a_ride(uow)
    event = session_rescheduled()

    handlers.reschedule_rides(event, uow=uow, now=NOW)
    handlers.reschedule_rides(event, uow=uow, now=NOW + timedelta(seconds=5))

    assert [e.type for e in uow.published] == ["ride.requested", "ride.rescheduled"]
    assert uow.rides.all[0].pickup_at == NEW_START + timedelta(minutes=90)


def test_a_second_reschedule_to_the_same_time_with_another_event_id_emits_nothing_more():
    uow = transport_uow()
    booked_with_a_ride(uow)
    first, second = session_rescheduled(), session_rescheduled()

    handlers.reschedule_rides(first, uow=uow, now=NOW)
    handlers.reschedule_rides(second, uow=uow, now=NOW)

    assert [e.type for e in uow.published] == ["ride.requested", "ride.rescheduled"]
    assert uow.inbox.processed >= {first.event_id, second.event_id}


def test_rescheduling_twice_to_different_times_moves_the_ride_each_time():
    uow = transport_uow()
    booked_with_a_ride(uow)
    later = NEW_START + timedelta(days=1)

    handlers.reschedule_rides(session_rescheduled(), uow=uow, now=NOW)
    handlers.reschedule_rides(session_rescheduled(starts_at=later), uow=uow, now=NOW)

    assert [e.data["pickup_at"] for e in uow.published if e.type == "ride.rescheduled"] == [
        NEW_START + timedelta(minutes=90),
        later + timedelta(minutes=90),
    ]
    assert uow.rides.all[0].pickup_at == later + timedelta(minutes=90)


def test_a_cancelled_ride_stays_cancelled_when_its_session_is_rescheduled():
    uow = transport_uow()
    booked_with_a_ride(uow)
    handlers.cancel_rides(session_cancelled(), uow=uow, now=NOW)
    event = session_rescheduled()

    handlers.reschedule_rides(event, uow=uow, now=NOW)

    [ride] = uow.rides.all
    assert ride.status is RideStatus.CANCELLED
    assert ride.pickup_at == START + timedelta(minutes=90)
    assert [e.type for e in uow.published] == ["ride.requested", "ride.cancelled"]
    assert event.event_id in uow.inbox.processed


def test_rescheduling_a_session_without_a_ride_does_nothing_but_record_the_event():
    uow = transport_uow()
    event = session_rescheduled(session_id="session-without-ride")

    handlers.reschedule_rides(event, uow=uow, now=NOW)

    assert uow.rides.all == []
    assert uow.published == []
    assert uow.inbox.processed == {event.event_id}


def test_rescheduling_a_session_with_ride_home_mode_none_requests_and_moves_no_ride():
    uow = transport_uow()
    handlers.request_ride(session_booked(ride_home_mode="none"), uow=uow, now=NOW)
    event = session_rescheduled(ride_home_mode="none")

    handlers.reschedule_rides(event, uow=uow, now=NOW)

    assert uow.rides.all == []
    assert uow.published == []
    assert event.event_id in uow.inbox.processed


def test_a_dispatched_ride_is_not_moved_by_a_late_reschedule_of_its_session():
    uow = transport_uow()
    booked_with_a_ride(uow)
    discharged_at = START + timedelta(minutes=80)
    handlers.dispatch_rides(session_discharged(discharged_at=discharged_at), uow=uow, now=discharged_at)

    handlers.reschedule_rides(session_rescheduled(), uow=uow, now=discharged_at + timedelta(minutes=1))

    [ride] = uow.rides.all
    assert ride.status is RideStatus.DISPATCHED
    assert ride.pickup_at == discharged_at
    assert [e.type for e in uow.published] == ["ride.requested", "ride.dispatched"]


# --- session.no_show -----------------------------------------------------------------------------------------------


def test_a_no_show_cancels_the_ride_and_emits_ride_cancelled():
    uow = transport_uow()
    booked_with_a_ride(uow)
    recorded = START + timedelta(minutes=30)
    event = session_no_show()

    handlers.cancel_rides(event, uow=uow, now=recorded)

    [ride] = uow.rides.all
    assert ride.status is RideStatus.CANCELLED
    assert ride.cancelled_at == recorded
    assert [e.type for e in uow.published] == ["ride.requested", "ride.cancelled"]
    assert dict(uow.published[1].data) == {
        "ride_id": ride.id,
        "session_id": "session-1",
        "pickup_at": START + timedelta(minutes=90),
        "mode": "escort",
        "status": "cancelled",
        "patient_id": "patient-1",
        "session_starts_at": START,
    }
    assert event.event_id in uow.inbox.processed


def test_the_same_no_show_event_twice_cancels_the_ride_once():
    uow = transport_uow()
    booked_with_a_ride(uow)
    event = session_no_show()

    handlers.cancel_rides(event, uow=uow, now=NOW)
    handlers.cancel_rides(event, uow=uow, now=NOW + timedelta(minutes=1))

    assert [e.type for e in uow.published] == ["ride.requested", "ride.cancelled"]
    assert uow.rides.all[0].cancelled_at == NOW


def test_a_no_show_of_a_session_whose_ride_was_already_cancelled_emits_nothing_more():
    uow = transport_uow()
    booked_with_a_ride(uow)
    handlers.cancel_rides(session_cancelled(), uow=uow, now=NOW)

    handlers.cancel_rides(session_no_show(), uow=uow, now=NOW + timedelta(days=1))

    assert [e.type for e in uow.published] == ["ride.requested", "ride.cancelled"]
    assert uow.rides.all[0].cancelled_at == NOW


# --- session.discharged --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "discharged_at",
    [START + timedelta(minutes=70), START + timedelta(minutes=120)],
    ids=["earlier than planned", "later than planned"],
)
def test_a_discharge_dispatches_the_ride_for_the_moment_the_patient_was_released(discharged_at):
    uow = transport_uow()
    booked_with_a_ride(uow)
    event = session_discharged(discharged_at=discharged_at)
    handled_at = discharged_at + timedelta(seconds=3)

    handlers.dispatch_rides(event, uow=uow, now=handled_at)

    [ride] = uow.rides.all
    assert ride.status is RideStatus.DISPATCHED
    assert ride.pickup_at == discharged_at
    assert ride.dispatched_at == handled_at
    assert ride.cancelled_at is None
    assert [e.type for e in uow.published] == ["ride.requested", "ride.dispatched"]
    dispatched = uow.published[1]
    assert dict(dispatched.data) == {
        "ride_id": ride.id,
        "session_id": "session-1",
        "pickup_at": discharged_at,
        "mode": "escort",
        "status": "dispatched",
        "patient_id": "patient-1",
        "session_starts_at": START,
    }
    assert dispatched.correlation_id == "session-1"
    assert event.event_id in uow.inbox.processed


def test_the_same_session_discharged_event_twice_dispatches_the_ride_once():
    uow = transport_uow()
    booked_with_a_ride(uow)
    event = session_discharged()

    handlers.dispatch_rides(event, uow=uow, now=NOW)
    handlers.dispatch_rides(event, uow=uow, now=NOW + timedelta(minutes=1))

    assert [e.type for e in uow.published] == ["ride.requested", "ride.dispatched"]
    assert uow.rides.all[0].dispatched_at == NOW


def test_a_second_discharge_of_the_same_session_with_another_event_id_changes_nothing():
    uow = transport_uow()
    booked_with_a_ride(uow)
    first_at = START + timedelta(minutes=80)
    first = session_discharged(discharged_at=first_at)
    second = session_discharged(discharged_at=first_at + timedelta(minutes=5))

    handlers.dispatch_rides(first, uow=uow, now=first_at)
    handlers.dispatch_rides(second, uow=uow, now=first_at + timedelta(minutes=5))

    [ride] = uow.rides.all
    assert ride.pickup_at == first_at
    assert ride.dispatched_at == first_at
    assert [e.type for e in uow.published] == ["ride.requested", "ride.dispatched"]
    assert uow.inbox.processed >= {first.event_id, second.event_id}


def test_a_cancelled_ride_is_not_dispatched_when_the_session_is_discharged(caplog):
    uow = transport_uow()
    booked_with_a_ride(uow)
    handlers.cancel_rides(session_cancelled(), uow=uow, now=NOW)
    event = session_discharged()

    handlers.dispatch_rides(event, uow=uow, now=NOW + timedelta(days=1))

    [ride] = uow.rides.all
    assert ride.status is RideStatus.CANCELLED
    assert ride.dispatched_at is None
    assert ride.pickup_at == START + timedelta(minutes=90)
    assert [e.type for e in uow.published] == ["ride.requested", "ride.cancelled"]
    assert event.event_id in uow.inbox.processed
    assert "session session-1 discharged but has no ride to dispatch" in caplog.text


def test_discharging_a_session_without_a_ride_does_nothing_but_record_the_event():
    uow = transport_uow()
    event = session_discharged(session_id="session-without-ride", ride_home_mode="none")

    handlers.dispatch_rides(event, uow=uow, now=NOW)

    assert uow.rides.all == []
    assert uow.published == []
    assert uow.inbox.processed == {event.event_id}


def test_a_discharge_after_a_reschedule_dispatches_the_moved_ride_and_the_ride_events_carry_no_personal_details():
    uow = transport_uow()
    booked_with_a_ride(uow)
    discharged_at = NEW_START + timedelta(minutes=85)

    handlers.reschedule_rides(session_rescheduled(), uow=uow, now=NOW)
    handlers.dispatch_rides(session_discharged(discharged_at=discharged_at), uow=uow, now=discharged_at)

    [ride] = uow.rides.all
    assert (ride.status, ride.pickup_at) == (RideStatus.DISPATCHED, discharged_at)
    assert [e.type for e in uow.published] == ["ride.requested", "ride.rescheduled", "ride.dispatched"]
    assert all(set(e.data) == RIDE_DATA_FIELDS for e in uow.published)
    assert {e.data["ride_id"] for e in uow.published} == {ride.id}


# --- the consumer map ----------------------------------------------------------------------------------------------


def test_the_transport_consumer_has_a_handler_for_every_event_its_queue_is_bound_to():
    assert set(event_handlers(transport_uow, lambda: NOW)) == set(TRANSPORT_QUEUE.routing_keys)


def test_the_consumer_sends_a_no_show_to_the_use_case_that_cancels_the_ride():
    uow = transport_uow()
    booked_with_a_ride(uow)

    event_handlers(lambda: uow, lambda: NOW)[SESSION_NO_SHOW.name](session_no_show())

    assert uow.rides.all[0].status is RideStatus.CANCELLED
