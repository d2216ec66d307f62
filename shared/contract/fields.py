"""Field types used across the event contract."""
from datetime import datetime, timezone

from marshmallow import fields, validate


class UtcDateTime(fields.AwareDateTime):
    """An instant that must carry an offset on the way in and is written in UTC on the way out."""

    def __init__(self, **kwargs):
        super().__init__(format="iso", **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError(f"{attr} must be timezone-aware")
            value = value.astimezone(timezone.utc)
        return super()._serialize(value, attr, obj, **kwargs)


def identifier(**kwargs) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=64), **kwargs)
