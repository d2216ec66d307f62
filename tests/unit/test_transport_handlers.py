"""The transport service's use cases: a ride home for every session that needs one, each event handled once."""
from datetime import datetime, timedelta, timezone

from fakes import FakeUnitOfWork
from services.transport import handlers
from services.transport.domain.rides import RideStatus
from shared.contract import SESSION_BOOKED, SESSION_CANCELLED, Event, from_json, new_event, to_json
from unit.fakes_services import FakeRideRepository

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
START = datetime(2027, 1, 5, 14, 0, tzinfo=timezone.utc)


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


def transport_uow() -> FakeUnitOfWork:
    return FakeUnitOfWork(rides=FakeRideRepository())


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


def test_cancelling_a_session_without_a_ride_does_nothing_but_record_the_event():
    uow = transport_uow()
    event = session_cancelled(session_id="session-without-ride")

    handlers.cancel_rides(event, uow=uow, now=NOW)

    assert uow.rides.all == []
    assert uow.published == []
    assert uow.inbox.processed == {event.event_id}


def test_listing_rides_for_a_session_gives_only_its_rides():
    uow = transport_uow()
    handlers.request_ride(session_booked(session_id="session-1"), uow=uow, now=NOW)
    handlers.request_ride(session_booked(session_id="session-2"), uow=uow, now=NOW)

    rides = handlers.list_rides(session_id="session-2", uow=uow)

    assert [r.session_id for r in rides] == ["session-2"]
    assert len(handlers.list_rides(session_id=None, uow=uow)) == 2
