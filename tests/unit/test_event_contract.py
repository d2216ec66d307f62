"""The event contract: the envelope, its JSON form, and what a consumer refuses."""

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared.contract import (
    CATALOGUE,
    NOTIFICATION_SENT,
    RIDE_AT_RISK,
    RIDE_REQUESTED,
    SESSION_BOOKED,
    SESSION_CANCELLED,
    Event,
    InvalidEvent,
    from_json,
    new_event,
    to_json,
)

NEW_YORK = ZoneInfo("America/New_York")


def booked_data(**overrides) -> dict:
    starts_at = datetime(2027, 1, 5, 9, 0, tzinfo=NEW_YORK)
    data = {
        "session_id": "session-1",
        "patient_id": "patient-1",
        "treatment_type": "iv_infusion",
        "starts_at": starts_at,
        "treatment_ends_at": starts_at + timedelta(minutes=45),
        "recovery_ends_at": starts_at + timedelta(minutes=90),
        "chair_id": "chair-1",
        "ride_home_mode": "escort",
    }
    data.update(overrides)
    return data


def booked_event(**overrides) -> Event:
    return new_event(SESSION_BOOKED, booked_data(**overrides), correlation_id="session-1").stamped_by("scheduler")


def envelope_document(**overrides) -> dict:
    document = json.loads(to_json(booked_event()))
    document.update(overrides)
    return document


def test_an_event_survives_the_round_trip_through_json_with_its_ids_and_times_in_utc():
    event = booked_event()

    received = from_json(to_json(event))

    assert received.event_id == event.event_id
    assert received.type == "session.booked"
    assert received.version == 1
    assert received.correlation_id == "session-1"
    assert received.producer == "scheduler"
    assert received.occurred_at == event.occurred_at
    assert received.occurred_at.utcoffset() == timedelta(0)
    assert received.data["session_id"] == "session-1"
    assert received.data["patient_id"] == "patient-1"
    for name in ("starts_at", "treatment_ends_at", "recovery_ends_at"):
        assert received.data[name] == event.data[name]
        assert received.data[name].utcoffset() == timedelta(0)


def test_times_travel_in_utc_whatever_offset_they_were_given_in():
    document = json.loads(to_json(booked_event()))

    assert document["data"]["starts_at"].startswith("2027-01-05T14:00:00")
    assert document["data"]["starts_at"].endswith("+00:00")
    assert document["occurred_at"].endswith("+00:00")


def test_new_event_refuses_a_naive_datetime_in_the_data():
    with pytest.raises(ValueError, match="timezone-aware"):
        new_event(SESSION_BOOKED, booked_data(starts_at=datetime(2027, 1, 5, 9, 0)), correlation_id="session-1")


def test_a_received_event_with_a_naive_time_is_refused():
    document = envelope_document()
    document["data"]["starts_at"] = "2027-01-05T14:00:00"

    with pytest.raises(InvalidEvent, match="starts_at"):
        from_json(json.dumps(document))


def test_a_received_envelope_with_a_naive_occurred_at_is_refused():
    with pytest.raises(InvalidEvent, match="occurred_at"):
        from_json(json.dumps(envelope_document(occurred_at="2027-01-05T14:00:00")))


def test_new_event_refuses_data_missing_a_required_field():
    data = booked_data()
    del data["chair_id"]

    with pytest.raises(InvalidEvent, match="chair_id"):
        new_event(SESSION_BOOKED, data, correlation_id="session-1")


def test_unknown_data_fields_are_ignored_when_reading_so_producers_can_add_optional_ones():
    document = envelope_document()
    document["data"]["added_in_a_later_release"] = "whatever"

    received = from_json(json.dumps(document))

    assert "added_in_a_later_release" not in received.data
    assert received.data["session_id"] == "session-1"


def test_an_unknown_version_is_refused_with_the_reason():
    with pytest.raises(InvalidEvent, match="version 2 is not supported"):
        from_json(json.dumps(envelope_document(version=2)))


def test_an_unknown_type_is_refused_with_the_reason():
    with pytest.raises(InvalidEvent, match="type"):
        from_json(json.dumps(envelope_document(type="session.teleported")))


def test_a_body_that_is_not_json_is_refused_with_the_reason():
    with pytest.raises(InvalidEvent, match="not JSON"):
        from_json(b"\xff\xfe not json at all")


def test_a_body_that_is_text_but_not_json_is_refused_with_the_reason():
    with pytest.raises(InvalidEvent, match="not JSON"):
        from_json("{event_id: 1")


def test_a_json_body_that_is_not_an_object_is_refused_with_the_reason():
    with pytest.raises(InvalidEvent, match="not a JSON object"):
        from_json(json.dumps([envelope_document()]))


@pytest.mark.parametrize("field", ["event_id", "type", "version", "occurred_at", "producer", "correlation_id", "data"])
def test_an_envelope_missing_a_field_is_refused_naming_that_field(field):
    document = envelope_document()
    del document[field]

    with pytest.raises(InvalidEvent, match=re.escape(field)) as refused:
        from_json(json.dumps(document))

    assert "envelope does not fit the contract" in str(refused.value)


def test_an_envelope_with_an_unknown_field_is_refused():
    with pytest.raises(InvalidEvent, match="routing_hint"):
        from_json(json.dumps(envelope_document(routing_hint="x")))


def test_an_event_id_that_is_not_a_uuid_is_refused():
    with pytest.raises(InvalidEvent, match="event_id"):
        from_json(json.dumps(envelope_document(event_id="not-a-uuid")))


def test_data_that_does_not_fit_its_type_is_refused_naming_the_field():
    document = envelope_document()
    document["data"]["ride_home_mode"] = "taxi"

    with pytest.raises(InvalidEvent, match="ride_home_mode"):
        from_json(json.dumps(document))


def test_an_event_without_a_producer_cannot_be_serialized():
    event = new_event(SESSION_BOOKED, booked_data(), correlation_id="session-1")

    assert event.producer == ""
    with pytest.raises(InvalidEvent, match="producer"):
        to_json(event)


def test_new_event_gives_each_event_a_fresh_uuid_and_an_aware_occurred_at():
    first = booked_event()
    second = booked_event()

    assert first.event_id != second.event_id
    assert uuid.UUID(first.event_id)
    assert first.occurred_at.tzinfo is not None


def test_a_cancellation_without_reason_round_trips_with_reason_none():
    event = new_event(
        SESSION_CANCELLED,
        {
            "session_id": "s",
            "patient_id": "p",
            "reason": None,
            "cancelled_at": datetime(2027, 1, 1, tzinfo=UTC),
        },
        correlation_id="s",
    ).stamped_by("scheduler")

    received = from_json(to_json(event))

    assert received.type == "session.cancelled"
    assert received.data["reason"] is None
    assert received.data["cancelled_at"] == datetime(2027, 1, 1, tzinfo=UTC)


def test_a_ride_event_round_trips():
    pickup = datetime(2027, 1, 5, 15, 30, tzinfo=UTC)
    event = new_event(
        RIDE_REQUESTED,
        {"ride_id": "r", "session_id": "s", "pickup_at": pickup, "mode": "escort", "status": "requested"},
        correlation_id="s",
    ).stamped_by("transport")

    received = from_json(to_json(event).encode())

    assert received.data == {
        "ride_id": "r",
        "session_id": "s",
        "pickup_at": pickup,
        "mode": "escort",
        "status": "requested",
        # Optional fields added later read as None from a producer that does not send them.
        "patient_id": None,
        "at_risk": None,
        "session_starts_at": None,
    }


def test_a_ride_at_risk_names_its_threshold_and_the_sessions_start():
    starts = datetime(2027, 1, 5, 14, 0, tzinfo=UTC)
    event = new_event(
        RIDE_AT_RISK,
        {
            "ride_id": "r",
            "session_id": "s",
            "patient_id": "p",
            "pickup_at": starts,
            "mode": "provider",
            "status": "requested",
            "at_risk": "24h",
            "session_starts_at": starts,
        },
        correlation_id="s",
    ).stamped_by("transport")

    received = from_json(to_json(event))

    assert (received.data["at_risk"], received.data["session_starts_at"]) == ("24h", starts)


PERSONAL_DETAIL = re.compile(r"name|phone|e_?mail|address|street", re.IGNORECASE)


def test_no_event_of_the_catalogue_carries_a_personal_detail_only_ids_and_times():
    assert CATALOGUE, "the catalogue lists the contract's event types"
    offending = {
        event_type.name: field
        for event_type in CATALOGUE.values()
        for field in event_type.data_schema().fields
        if PERSONAL_DETAIL.search(field)
    }

    assert offending == {}


def test_every_type_of_the_catalogue_is_listed_under_its_own_name_with_its_current_version_supported():
    for name, event_type in CATALOGUE.items():
        assert event_type.name == name
        assert event_type.version in event_type.versions


@pytest.mark.parametrize("version", [True, "1", 1.5])
def test_a_version_that_is_not_an_integer_is_refused(version):
    with pytest.raises(InvalidEvent, match="version"):
        from_json(json.dumps(envelope_document(version=version)))


@pytest.mark.parametrize(
    "pickup",
    [
        "0001-01-01T00:00:00+00:00",
        "9999-12-31T23:00:00+00:00",
        "1999-12-31T23:59:59+00:00",
        "2000-01-01T00:00:00+14:00",
    ],
    ids=["year 1", "year 9999", "1999", "1999 once in UTC"],
)
def test_a_session_booked_outside_the_years_2000_to_2999_in_utc_is_refused(pickup):
    document = envelope_document()
    document["data"]["starts_at"] = pickup

    with pytest.raises(InvalidEvent, match="starts_at"):
        from_json(json.dumps(document))


def test_new_event_refuses_a_time_outside_the_years_2000_to_2999():
    with pytest.raises(InvalidEvent, match="recovery_ends_at"):
        new_event(SESSION_BOOKED, booked_data(recovery_ends_at=datetime(3000, 1, 1, tzinfo=UTC)), correlation_id="s")


def test_an_envelope_that_occurred_in_year_1_is_refused():
    with pytest.raises(InvalidEvent, match="occurred_at"):
        from_json(json.dumps(envelope_document(occurred_at="0001-01-01T00:00:00+00:00")))


@pytest.mark.parametrize(
    "patient_id",
    ["../clinic", "patient-1\n", "", "x" * 65, "patient 1", "patient\x00", "patient.1", "patient:1", "-patient"],
    ids=["path", "line break", "empty", "65 characters", "space", "NUL", "dot", "colon", "leading dash"],
)
def test_a_session_booked_whose_patient_id_is_not_an_id_of_the_api_is_refused(patient_id):
    document = envelope_document()
    document["data"]["patient_id"] = patient_id

    with pytest.raises(InvalidEvent, match="patient_id"):
        from_json(json.dumps(document))


@pytest.mark.parametrize("field", ["treatment_type", "chair_id", "clinician_id", "series_id"])
def test_every_other_id_of_a_session_booked_is_held_to_the_same_pattern(field):
    document = envelope_document()
    document["data"][field] = "../clinic"

    with pytest.raises(InvalidEvent, match=field):
        from_json(json.dumps(document))


@pytest.mark.parametrize("field", ["correlation_id", "producer"])
def test_the_envelope_ids_are_held_to_the_same_pattern(field):
    with pytest.raises(InvalidEvent, match=field):
        from_json(json.dumps(envelope_document(**{field: "a/b"})))


def ride_document(**data) -> dict:
    pickup = datetime(2027, 1, 5, 15, 30, tzinfo=UTC)
    values = {"ride_id": "r", "session_id": "s", "pickup_at": pickup, "mode": "escort", "status": "requested"}
    document = json.loads(to_json(new_event(RIDE_REQUESTED, values, correlation_id="s").stamped_by("transport")))
    document["data"].update(data)
    return document


@pytest.mark.parametrize(
    "field, value",
    [("mode", "taxi"), ("status", "teleported"), ("pickup_at", "9999-01-01T00:00:00+00:00"), ("ride_id", "r" * 65)],
)
def test_a_ride_event_with_a_value_outside_its_bounds_is_refused(field, value):
    with pytest.raises(InvalidEvent, match=field):
        from_json(json.dumps(ride_document(**{field: value})))


@pytest.mark.parametrize(
    "field, value",
    [("kind", "preparation instructions"), ("channel", "pigeon"), ("reason", "x" * 501), ("reason", "gateway\x00")],
)
def test_a_notification_event_with_a_value_outside_its_bounds_is_refused(field, value):
    data = {
        "notification_id": "n",
        "session_id": "s",
        "kind": "preparation_instructions",
        "channel": "sms",
        "reason": None,
    }
    document = json.loads(to_json(new_event(NOTIFICATION_SENT, data, correlation_id="s").stamped_by("notifications")))
    document["data"][field] = value

    with pytest.raises(InvalidEvent, match=field):
        from_json(json.dumps(document))


def test_a_cancellation_reason_is_a_code_not_free_text():
    document = envelope_document(type="session.cancelled")
    document["data"] = {
        "session_id": "s",
        "patient_id": "p",
        "reason": "Fever, see note",
        "cancelled_at": "2027-01-01T00:00:00+00:00",
    }

    with pytest.raises(InvalidEvent, match="reason"):
        from_json(json.dumps(document))
