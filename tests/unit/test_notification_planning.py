"""Which messages each event plans and which it cancels: pure rules, nothing sent, nobody asked."""

from datetime import UTC, datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

import pytest

from services.notifications.domain.messages import MessageStatus
from services.notifications.domain.planning import Occasion, Policy, parse_duration, parse_thresholds, plan

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
START = datetime(2027, 1, 5, 14, 0, tzinfo=UTC)
POLICY = Policy(
    grace=timedelta(minutes=2), reminders=parse_thresholds("48h,3h"), clinic_zone=ZoneInfo("America/New_York")
)


NUMBERS = count(1)


def ids():
    """Ids unique across every plan of a test, as the service's uuids are."""
    return lambda: f"m-{next(NUMBERS)}"


def occasion(event_type: str, event_id: str = "e-1", *, now: datetime = NOW, **data) -> Occasion:
    return Occasion(event_type, event_id, {"session_id": "s-1", "patient_id": "p-1", **data}, now)


def booked(*, starts_at=START, now=NOW, event_id="e-booked"):
    return occasion("session.booked", event_id, now=now, starts_at=starts_at)


def rescheduled(*, starts_at, previous=START, now=NOW, event_id="e-moved"):
    return occasion("session.rescheduled", event_id, now=now, starts_at=starts_at, previous_starts_at=previous)


def ride(event_type: str, event_id: str = "e-ride", *, mode="escort", status="requested", **extra):
    return occasion(event_type, event_id, ride_id="r-1", mode=mode, status=status, pickup_at=START, **extra)


def test_a_booking_plans_the_instructions_after_the_grace_period_and_a_reminder_at_each_threshold():
    result = plan(booked(), [], POLICY, new_id=ids())

    assert [(m.kind, m.due_at, m.detail) for m in result.add] == [
        ("preparation_instructions", NOW + timedelta(minutes=2), None),
        ("reminder", START - timedelta(hours=48), "48h"),
        ("reminder", START - timedelta(hours=3), "3h"),
    ]
    assert {m.status for m in result.add} == {MessageStatus.SCHEDULED}
    assert {m.recipient for m in result.add} == {"patient"}
    assert result.cancel == []


def test_a_threshold_already_past_at_booking_is_skipped():
    result = plan(booked(starts_at=NOW + timedelta(hours=20)), [], POLICY, new_id=ids())

    assert [(m.kind, m.detail) for m in result.add] == [("preparation_instructions", None), ("reminder", "3h")]


def test_a_reminder_that_would_come_before_the_instructions_is_skipped():
    result = plan(booked(starts_at=NOW + timedelta(hours=3, minutes=1)), [], POLICY, new_id=ids())

    assert [m.kind for m in result.add] == ["preparation_instructions"]


def test_each_message_has_a_deterministic_key_so_the_same_event_planned_twice_adds_nothing_new():
    first = plan(booked(), [], POLICY, new_id=ids())
    again = plan(booked(), first.add, POLICY, new_id=ids())

    assert [m.dedupe_key for m in first.add] == ["", "e-booked:48h", "e-booked:3h"]
    assert again.add == []


def test_a_reschedule_before_the_instructions_went_out_moves_the_reminders_and_lets_the_instructions_name_the_new_time():
    existing = plan(booked(), [], POLICY, new_id=ids()).add
    later = START + timedelta(days=1)

    result = plan(rescheduled(starts_at=later, now=NOW + timedelta(minutes=1)), existing, POLICY, new_id=ids())

    assert sorted((m.kind, m.detail) for m, reason in result.cancel) == [("reminder", "3h"), ("reminder", "48h")]
    assert {reason for _, reason in result.cancel} == {"rescheduled"}
    assert [(m.kind, m.due_at) for m in result.add] == [
        ("reminder", later - timedelta(hours=48)),
        ("reminder", later - timedelta(hours=3)),
    ]


def test_a_reschedule_after_the_instructions_went_out_plans_a_notice_naming_the_previous_time():
    existing = plan(booked(), [], POLICY, new_id=ids()).add
    existing[0].status = MessageStatus.SENT

    result = plan(rescheduled(starts_at=START + timedelta(days=1)), existing, POLICY, new_id=ids())

    [notice] = [m for m in result.add if m.kind == "session_rescheduled"]
    assert (notice.dedupe_key, notice.detail, notice.due_at) == (
        "e-moved",
        "2027-01-05T14:00Z",
        NOW + timedelta(minutes=2),
    )


def test_a_second_reschedule_within_the_grace_period_replaces_the_notice_not_yet_sent():
    existing = plan(booked(), [], POLICY, new_id=ids()).add
    existing[0].status = MessageStatus.SENT
    existing += plan(rescheduled(starts_at=START + timedelta(days=1)), existing, POLICY, new_id=ids()).add

    result = plan(
        rescheduled(starts_at=START + timedelta(days=2), event_id="e-moved-again"), existing, POLICY, new_id=ids()
    )

    assert [(m.kind, m.dedupe_key) for m, reason in result.cancel if reason == "superseded"] == [
        ("session_rescheduled", "e-moved")
    ]
    assert [m.dedupe_key for m in result.add if m.kind == "session_rescheduled"] == ["e-moved-again"]


def test_a_cancellation_cancels_everything_pending_and_tells_a_patient_who_had_heard_of_the_session():
    existing = plan(booked(), [], POLICY, new_id=ids()).add
    existing[0].status = MessageStatus.SENT

    result = plan(occasion("session.cancelled", "e-cancel", reason="patient_request"), existing, POLICY, new_id=ids())

    assert sorted(m.detail for m, _ in result.cancel) == ["3h", "48h"]
    assert [(m.kind, m.due_at) for m in result.add] == [("session_cancelled", NOW)]


def test_a_booking_cancelled_before_any_message_went_out_gives_no_message_at_all():
    existing = plan(booked(), [], POLICY, new_id=ids()).add

    result = plan(occasion("session.cancelled", "e-cancel"), existing, POLICY, new_id=ids())

    assert len(result.cancel) == 3
    assert result.add == []


def test_a_no_show_cancels_everything_pending_and_sends_no_notice():
    existing = plan(booked(), [], POLICY, new_id=ids()).add
    existing[0].status = MessageStatus.SENT

    result = plan(occasion("session.no_show", "e-no-show"), existing, POLICY, new_id=ids())

    assert sorted(m.detail for m, _ in result.cancel) == ["3h", "48h"]
    assert result.add == []


def test_a_message_already_in_flight_is_not_cancelled():
    existing = plan(booked(), [], POLICY, new_id=ids()).add
    existing[1].status = MessageStatus.SENDING

    result = plan(occasion("session.cancelled", "e-cancel"), existing, POLICY, new_id=ids())

    assert existing[1] not in [m for m, _ in result.cancel]


def test_a_discharge_plans_the_follow_up_for_ten_the_next_morning_in_the_clinics_zone():
    discharged_at = datetime(2027, 3, 13, 23, 30, tzinfo=UTC)  # 18:30 on the 13th in New York, before the DST change

    result = plan(occasion("session.discharged", "e-out", discharged_at=discharged_at), [], POLICY, new_id=ids())

    [follow_up] = result.add
    assert follow_up.kind == "follow_up"
    assert follow_up.due_at.astimezone(ZoneInfo("America/New_York")).isoformat() == "2027-03-14T10:00:00-04:00"


def test_a_requested_escort_ride_plans_the_escorts_request_and_a_new_round_replaces_the_one_not_sent():
    first = plan(ride("ride.requested", "e-r1"), [], POLICY, new_id=ids()).add

    result = plan(ride("ride.rescheduled", "e-r2"), first, POLICY, new_id=ids())

    assert [(m.kind, m.recipient, m.ride_id, m.dedupe_key) for m in first] == [
        ("escort_ride_request", "escort", "r-1", "e-r1")
    ]
    assert [(m.dedupe_key, reason) for m, reason in result.cancel] == [("e-r1", "superseded")]
    assert [m.dedupe_key for m in result.add] == ["e-r2"]


@pytest.mark.parametrize("mode, status", [("provider", "requested"), ("escort", "confirmed")])
def test_a_ride_that_does_not_wait_for_an_escort_plans_nothing(mode, status):
    assert plan(ride("ride.requested", mode=mode, status=status), [], POLICY, new_id=ids()).add == []


def test_a_dispatched_escort_ride_calls_the_escort_in_once_per_ride_and_a_provider_ride_plans_nothing():
    escort = plan(ride("ride.dispatched", status="dispatched"), [], POLICY, new_id=ids()).add
    provider = plan(ride("ride.dispatched", mode="provider", status="dispatched"), [], POLICY, new_id=ids()).add

    assert [(m.kind, m.recipient, m.dedupe_key) for m in escort] == [("escort_patient_ready", "escort", "r-1")]
    assert provider == []


def test_a_confirmed_ride_tells_the_patient():
    [message] = plan(ride("ride.confirmed", status="confirmed"), [], POLICY, new_id=ids()).add

    assert (message.kind, message.recipient, message.ride_id) == ("ride_confirmation", "patient", "r-1")


def test_a_ride_at_risk_alerts_the_front_desk_only_when_its_address_is_set():
    with_desk = Policy(front_desk=True)

    [alert] = plan(ride("ride.at_risk", at_risk="2h"), [], with_desk, new_id=ids()).add
    unset = plan(ride("ride.at_risk", at_risk="2h"), [], POLICY, new_id=ids())

    assert (alert.kind, alert.recipient, alert.detail) == ("ride_at_risk", "front_desk", "2h")
    assert (unset.add, unset.warnings) == ([], ["front_desk_email_unset"])


@pytest.mark.parametrize(
    "text, expected", [("2m", timedelta(minutes=2)), ("0", timedelta(0)), ("90s", timedelta(seconds=90))]
)
def test_a_grace_period_is_read_as_a_duration(text, expected):
    assert parse_duration(text, setting="NOTIFICATION_GRACE") == expected


@pytest.mark.parametrize("text", ["2", "soon", "-1m", "2 weeks"])
def test_a_grace_period_that_is_not_a_duration_is_refused_by_name(text):
    with pytest.raises(ValueError, match="NOTIFICATION_GRACE"):
        parse_duration(text, setting="NOTIFICATION_GRACE")


def test_reminder_thresholds_are_read_furthest_first_and_an_empty_setting_sends_no_reminders():
    assert [t.label for t in parse_thresholds("3h,48h")] == ["48h", "3h"]
    assert parse_thresholds("") == ()
