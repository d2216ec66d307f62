"""The ride's transition table, step by step: every status against every step, each allowed step with its one event,
each other step refused with a reason and nothing changed."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.transport.domain.errors import Refused
from services.transport.domain.rides import TRANSITIONS, Ride, RideStatus, Step

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
START = datetime(2027, 1, 5, 14, 0, tzinfo=UTC)
PICKUP = START + timedelta(minutes=90)
NEW_START = START + timedelta(days=1)

EXPECTED = {
    RideStatus.REQUESTED: {
        Step.CONFIRM: RideStatus.CONFIRMED,
        Step.DECLINE: RideStatus.DECLINED,
        Step.RESCHEDULE: RideStatus.REQUESTED,
        Step.DISPATCH: RideStatus.DISPATCHED,
        Step.CANCEL: RideStatus.CANCELLED,
    },
    RideStatus.CONFIRMED: {
        Step.RESCHEDULE: RideStatus.REQUESTED,
        Step.DECLINE: RideStatus.DECLINED,
        Step.DISPATCH: RideStatus.DISPATCHED,
        Step.COMPLETE: RideStatus.COMPLETED,
        Step.CANCEL: RideStatus.CANCELLED,
    },
    RideStatus.DECLINED: {Step.RESCHEDULE: RideStatus.REQUESTED, Step.CANCEL: RideStatus.CANCELLED},
    RideStatus.DISPATCHED: {Step.COMPLETE: RideStatus.COMPLETED, Step.DECLINE: RideStatus.DECLINED},
    RideStatus.COMPLETED: {},
    RideStatus.CANCELLED: {},
}
EVENTS = {
    Step.CONFIRM: ["ride.confirmed"],
    Step.DECLINE: ["ride.declined", "ride.at_risk"],
    Step.RESCHEDULE: ["ride.rescheduled"],
    Step.DISPATCH: ["ride.dispatched"],
    Step.COMPLETE: ["ride.completed"],
    Step.CANCEL: ["ride.cancelled"],
}


def ride(status: RideStatus, mode: str = "escort") -> Ride:
    return Ride("ride-1", "session-1", "patient-1", mode, PICKUP, status, NOW, session_starts_at=START)


def take(ride: Ride, step: Step) -> list:
    return {
        Step.CONFIRM: lambda: ride.confirm(now=NOW),
        Step.DECLINE: lambda: ride.decline(now=NOW),
        Step.RESCHEDULE: lambda: ride.reschedule(
            pickup_at=NEW_START + timedelta(minutes=90), session_starts_at=NEW_START
        ),
        Step.DISPATCH: lambda: ride.dispatch(pickup_at=PICKUP - timedelta(minutes=10), now=NOW),
        Step.COMPLETE: lambda: ride.complete(now=NOW),
        Step.CANCEL: lambda: ride.cancel(now=NOW),
    }[step]()


def test_the_transition_table_is_the_one_the_issue_describes():
    assert TRANSITIONS == EXPECTED


ALL = [(status, step) for status in RideStatus for step in Step]


@pytest.mark.parametrize("status, step", [p for p in ALL if p[1] in EXPECTED[p[0]]], ids=lambda v: v.value)
def test_an_allowed_step_moves_the_ride_to_the_table_s_status_with_its_event(status, step):
    subject = ride(status)

    events = take(subject, step)

    assert subject.status is EXPECTED[status][step]
    assert [e.type for e in events] == EVENTS[step]
    assert all(e.data["ride_id"] == "ride-1" and e.data["status"] == subject.status.value for e in events)
    assert all(e.correlation_id == "session-1" for e in events)


@pytest.mark.parametrize("status, step", [p for p in ALL if p[1] not in EXPECTED[p[0]]], ids=lambda v: v.value)
def test_a_step_the_table_does_not_list_is_refused_and_changes_nothing(status, step):
    subject = ride(status)
    before = replace(subject)

    with pytest.raises(Refused) as refusal:
        take(subject, step)

    assert refusal.value.reason == "transition_not_allowed"
    assert f"A {status.value} ride cannot {step.value}" in refusal.value.message
    assert subject == before


def test_a_declined_ride_is_at_risk_at_once_and_says_so():
    subject = ride(RideStatus.REQUESTED)

    declined, at_risk = subject.decline(now=NOW)

    assert (declined.type, at_risk.type) == ("ride.declined", "ride.at_risk")
    assert at_risk.data["at_risk"] == "declined"
    assert at_risk.data["session_starts_at"] == START
    assert subject.declined_at == NOW


def test_a_reschedule_asks_again_in_a_new_round_and_forgets_the_old_answer():
    subject = ride(RideStatus.CONFIRMED)
    subject.confirmed_at = NOW

    [event] = subject.reschedule(pickup_at=NEW_START + timedelta(minutes=90), session_starts_at=NEW_START)

    assert (subject.status, subject.round, subject.confirmed_at) == (RideStatus.REQUESTED, 2, None)
    assert event.data["status"] == "requested"
    assert event.data["pickup_at"] == NEW_START + timedelta(minutes=90)
    assert event.data["session_starts_at"] == NEW_START


def test_a_dispatch_picks_up_when_the_patient_was_released():
    subject = ride(RideStatus.CONFIRMED)
    released = PICKUP - timedelta(minutes=25)

    [event] = subject.dispatch(pickup_at=released, now=NOW)

    assert (subject.pickup_at, subject.dispatched_at) == (released, NOW)
    assert event.data["pickup_at"] == released


def test_ride_events_carry_ids_and_times_only():
    events = take(ride(RideStatus.REQUESTED), Step.DECLINE)

    for event in events:
        assert set(event.data) <= {
            "ride_id",
            "session_id",
            "pickup_at",
            "mode",
            "status",
            "patient_id",
            "at_risk",
            "session_starts_at",
        }
