"""HTTP field types of the scheduler's API."""
import phonenumbers
from marshmallow import ValidationError, fields


class E164Phone(fields.String):
    """A phone number in E.164 form (+ and country code), checked against the numbering plan."""

    default_error_messages = {"invalid_phone": "Give a valid phone number in E.164 form, for example +14155550123."}

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if not text.startswith("+"):
            raise self.make_error("invalid_phone")
        try:
            number = phonenumbers.parse(text, None)
        except phonenumbers.NumberParseException as exc:
            raise self.make_error("invalid_phone") from exc
        if not phonenumbers.is_valid_number(number):
            raise self.make_error("invalid_phone")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class OffsetDateTime(fields.AwareDateTime):
    """An ISO 8601 instant that must state its UTC offset; a naive time is ambiguous and refused."""

    default_error_messages = {
        "invalid_awareness": "Give the time with its UTC offset, for example 2026-12-01T09:00:00-05:00.",
    }

    def __init__(self, **kwargs):
        super().__init__(format="iso", **kwargs)


def local_time(value, time_zone) -> str:
    return value.astimezone(time_zone).isoformat()


__all__ = ["E164Phone", "OffsetDateTime", "ValidationError", "local_time"]
