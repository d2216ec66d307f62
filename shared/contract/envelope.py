"""The envelope every event travels in, and its translation to and from JSON."""

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from .events import CATALOGUE, EventType
from .fields import Identifier, UtcDateTime


class InvalidEvent(ValueError):
    """A message that is not a valid event of the contract; the reason says why."""


@dataclass(frozen=True)
class Event:
    type: str
    data: Mapping[str, Any]
    correlation_id: str
    version: int = 1
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    producer: str = ""

    def stamped_by(self, producer: str) -> "Event":
        return replace(self, producer=producer)


class EnvelopeSchema(Schema):
    class Meta:
        unknown = RAISE

    event_id = fields.UUID(required=True)
    type = fields.String(required=True, validate=validate.OneOf(sorted(CATALOGUE)))
    version = fields.Integer(required=True, strict=True)
    occurred_at = UtcDateTime(required=True)
    producer = Identifier(required=True)
    correlation_id = Identifier(required=True)
    data = fields.Dict(required=True)


_envelope = EnvelopeSchema()


def new_event(event_type: EventType, data: Mapping[str, Any], *, correlation_id: str) -> Event:
    """Build an event of the contract, checking its data against the type's schema now rather than at publish."""
    try:
        errors = event_type.data_schema().validate(event_type.data_schema().dump(data))
    except ValueError as exc:
        raise InvalidEvent(f"{event_type.name} data does not fit the contract: {exc}") from exc
    if errors:
        raise InvalidEvent(f"{event_type.name} data does not fit the contract: {errors}")
    return Event(
        type=event_type.name,
        data=dict(data),
        correlation_id=str(correlation_id),
        version=event_type.version,
    )


def to_json(event: Event) -> str:
    if not event.producer:
        raise InvalidEvent("an event must name its producer before it leaves the service")
    event_type = CATALOGUE[event.type]
    document = _envelope.dump(
        {
            "event_id": uuid.UUID(event.event_id),
            "type": event.type,
            "version": event.version,
            "occurred_at": event.occurred_at,
            "producer": event.producer,
            "correlation_id": event.correlation_id,
            "data": event_type.data_schema().dump(event.data),
        }
    )
    return json.dumps(document, separators=(",", ":"))


def from_json(body: bytes | str) -> Event:
    """Parse and validate a message body; raise InvalidEvent with the reason when it is not one of ours."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidEvent(f"body is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise InvalidEvent("body is not a JSON object")
    try:
        envelope = _envelope.load(document)
    except ValidationError as exc:
        raise InvalidEvent(f"envelope does not fit the contract: {exc.messages}") from exc
    event_type = CATALOGUE[envelope["type"]]
    if envelope["version"] not in event_type.versions:
        raise InvalidEvent(f"{event_type.name} version {envelope['version']} is not supported")
    try:
        data = event_type.data_schema().load(envelope["data"])
    except ValidationError as exc:
        raise InvalidEvent(f"{event_type.name} data does not fit the contract: {exc.messages}") from exc
    return Event(
        type=event_type.name,
        data=data,
        correlation_id=envelope["correlation_id"],
        version=envelope["version"],
        event_id=str(envelope["event_id"]),
        occurred_at=envelope["occurred_at"],
        producer=envelope["producer"],
    )
