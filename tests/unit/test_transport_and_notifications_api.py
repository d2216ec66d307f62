"""Transport's and notifications' APIs: what they answer fits the document they serve, and their queries take the
shared id type (so a NUL byte never reaches a database)."""

from datetime import UTC, datetime, timedelta

import jsonschema
import pytest
from flask import Flask

from services.notifications.api.http import MessagesOut, MessagesQuery
from services.notifications.api.http import build_openapi as notifications_openapi
from services.notifications.api.http import create_api as notifications_api
from services.notifications.domain.messages import Message, MessageStatus
from services.transport.api.http import RidesOut, RidesQuery
from services.transport.api.http import build_openapi as transport_openapi
from services.transport.api.http import create_api as transport_api
from services.transport.domain.rides import Ride, RideStatus
from shared.web import create_service_app

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
RIDE = Ride("ride-1", "session-1", "patient-1", "escort", NOW + timedelta(days=3), RideStatus.REQUESTED, NOW)
MESSAGE = Message(
    "message-1",
    "session-1",
    "patient-1",
    "preparation_instructions",
    "sms",
    "Your visit",
    "Hello",
    MessageStatus.SENT,
    NOW,
    sent_at=NOW,
)


def app_of(create_api) -> Flask:
    return create_service_app(__name__, create_api(uow_factory=None), service_token="t", health=dict)


def as_json_schema(node):
    """OpenAPI 3.0's ``nullable`` as JSON Schema's null type, so jsonschema can judge a body."""
    if isinstance(node, dict):
        node = {key: as_json_schema(value) for key, value in node.items()}
        if node.pop("nullable", False) and "type" in node:
            node["type"] = [node["type"], "null"]
        return node
    if isinstance(node, list):
        return [as_json_schema(value) for value in node]
    return node


def assert_fits(document: dict, name: str, body: dict) -> None:
    schema = as_json_schema({"$ref": f"#/components/schemas/{name}", "components": document["components"]})
    jsonschema.Draft4Validator(schema).validate(body)


def test_a_ride_as_answered_fits_the_documented_rides_body():
    body = RidesOut().dump({"rides": [RIDE]})

    assert_fits(transport_openapi(app_of(transport_api)), "RidesOut", body)
    assert body["rides"][0]["pickup_at"] == RIDE.pickup_at.isoformat()
    assert body["rides"][0]["status"] == "requested" and body["rides"][0]["cancelled_at"] is None


def test_a_message_as_answered_fits_the_documented_messages_body():
    body = MessagesOut().dump({"messages": [MESSAGE]})

    assert_fits(notifications_openapi(app_of(notifications_api)), "MessagesOut", body)
    assert body["messages"][0]["status"] == "sent" and body["messages"][0]["last_error"] is None


@pytest.mark.parametrize("query", [RidesQuery, MessagesQuery])
@pytest.mark.parametrize("session_id", ["\x00", "session-1\n", "../clinic", "s" * 65, ""])
def test_a_session_id_that_is_not_an_id_is_refused_by_the_query(query, session_id):
    assert "session_id" in query().validate({"session_id": session_id})
