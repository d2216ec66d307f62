"""The at-risk schedule: one check per threshold and round, counted back from the session's start; a threshold
already past fires at once; a ride not confirmed when a check comes due is at risk once; a reschedule re-arms."""

from datetime import UTC, datetime, timedelta

import pytest
from unit.fakes_transport import transport_uow
from unit.test_transport_handlers import session_booked, session_rescheduled

from services.transport import handlers
from services.transport.at_risk_worker import fire_due_checks
from services.transport.domain.at_risk import Threshold, arm, check_due, parse_thresholds
from services.transport.domain.escort import EscortAction
from services.transport.domain.rides import Ride, RideStatus

START = datetime(2027, 1, 5, 14, 0, tzinfo=UTC)
NEW_START = datetime(2027, 1, 7, 16, 30, tzinfo=UTC)
THRESHOLDS = parse_thresholds("24h,2h")


def ride(status=RideStatus.REQUESTED, round=1) -> Ride:
    return Ride(
        "ride-1",
        "session-1",
        "patient-1",
        "escort",
        START + timedelta(minutes=90),
        status,
        START - timedelta(days=10),
        session_starts_at=START,
        round=round,
    )


def test_thresholds_are_read_furthest_first_in_minutes_hours_and_days():
    assert parse_thresholds("2h, 24h,90m,2d") == (
        Threshold("2d", timedelta(days=2)),
        Threshold("24h", timedelta(hours=24)),
        Threshold("2h", timedelta(hours=2)),
        Threshold("90m", timedelta(minutes=90)),
    )


@pytest.mark.parametrize("text", ["", "24", "2x", "-2h", "0h", "24h,24h", "1.5h"])
def test_thresholds_that_are_not_durations_are_refused_at_start(text):
    with pytest.raises(ValueError):
        parse_thresholds(text)


def test_a_ride_requested_well_ahead_gets_one_unsettled_check_per_threshold_and_no_event():
    checks, events = arm(ride(), THRESHOLDS, now=START - timedelta(days=3))

    assert [(c.threshold, c.due_at, c.checked_at) for c in checks] == [
        ("24h", START - timedelta(hours=24), None),
        ("2h", START - timedelta(hours=2), None),
    ]
    assert events == []


def test_a_threshold_already_past_when_the_ride_is_requested_fires_at_once():
    now = START - timedelta(hours=5)

    checks, [event] = arm(ride(), THRESHOLDS, now=now)

    assert event.type == "ride.at_risk"
    assert event.data["at_risk"] == "24h"
    assert event.data["session_starts_at"] == START
    assert [(c.threshold, c.checked_at, c.fired) for c in checks] == [("24h", now, True), ("2h", None, False)]


def test_when_every_threshold_is_past_only_the_nearest_fires_and_the_others_are_settled():
    now = START - timedelta(minutes=30)

    checks, [event] = arm(ride(), THRESHOLDS, now=now)

    assert event.data["at_risk"] == "2h"
    assert [(c.threshold, c.checked_at, c.fired) for c in checks] == [("24h", now, False), ("2h", now, True)]


@pytest.mark.parametrize("status", [RideStatus.REQUESTED, RideStatus.DECLINED])
def test_a_due_check_of_a_ride_still_not_confirmed_fires_once(status):
    [check, _] = arm(ride(status), THRESHOLDS, now=START - timedelta(days=3))[0]
    now = check.due_at + timedelta(seconds=1)

    [event] = check_due(ride(status), check, now=now)

    assert (event.type, event.data["at_risk"]) == ("ride.at_risk", "24h")
    assert (check.checked_at, check.fired) == (now, True)


@pytest.mark.parametrize("status", [RideStatus.CONFIRMED, RideStatus.CANCELLED, RideStatus.DISPATCHED])
def test_a_due_check_of_a_confirmed_or_finished_ride_is_settled_silently(status):
    [check, _] = arm(ride(), THRESHOLDS, now=START - timedelta(days=3))[0]

    assert check_due(ride(status), check, now=check.due_at) == []
    assert (check.checked_at, check.fired) == (check.due_at, False)


def test_a_due_check_of_an_earlier_round_is_settled_silently():
    [check, _] = arm(ride(round=1), THRESHOLDS, now=START - timedelta(days=3))[0]

    assert check_due(ride(round=2), check, now=check.due_at) == []


def test_the_worker_fires_each_due_threshold_once_in_the_order_they_come():
    uow = transport_uow()
    booked_at = START - timedelta(days=3)
    handlers.request_ride(session_booked(), uow=uow, now=booked_at)

    assert fire_due_checks(uow=uow, now=START - timedelta(hours=30)) == 0
    assert fire_due_checks(uow=uow, now=START - timedelta(hours=23)) == 1
    assert fire_due_checks(uow=uow, now=START - timedelta(hours=22)) == 0
    assert fire_due_checks(uow=uow, now=START - timedelta(hours=1)) == 1
    assert fire_due_checks(uow=uow, now=START) == 0

    at_risk = [e for e in uow.published if e.type == "ride.at_risk"]
    assert [e.data["at_risk"] for e in at_risk] == ["24h", "2h"]


def test_a_ride_confirmed_in_time_is_never_at_risk():
    uow = transport_uow()
    handlers.request_ride(session_booked(), uow=uow, now=START - timedelta(days=3))
    [ride_] = uow.rides.all
    handlers.answer_escort(ride_.id, 1, EscortAction.CONFIRM, uow=uow, now=START - timedelta(days=2))

    assert fire_due_checks(uow=uow, now=START) == 0
    assert not [e for e in uow.published if e.type == "ride.at_risk"]


def test_a_reschedule_re_arms_the_thresholds_for_the_new_start():
    uow = transport_uow()
    handlers.request_ride(session_booked(), uow=uow, now=START - timedelta(days=3))
    assert fire_due_checks(uow=uow, now=START - timedelta(hours=23)) == 1  # the old start's 24h fired

    handlers.reschedule_rides(session_rescheduled(), uow=uow, now=START - timedelta(hours=22))
    [ride_] = uow.rides.all

    pending = [(c.round, c.threshold, c.due_at) for c in uow.at_risk_checks.checks if c.checked_at is None]
    assert pending == [(2, "24h", NEW_START - timedelta(hours=24)), (2, "2h", NEW_START - timedelta(hours=2))]
    assert fire_due_checks(uow=uow, now=START - timedelta(hours=1)) == 0  # the old 2h went with the old start
    assert fire_due_checks(uow=uow, now=NEW_START - timedelta(hours=23)) == 1
    last = [e for e in uow.published if e.type == "ride.at_risk"][-1]
    assert (last.data["at_risk"], last.data["session_starts_at"], ride_.round) == ("24h", NEW_START, 2)
