"""HTTP field types of the scheduler's API."""
import re
from contextvars import ContextVar
from zoneinfo import ZoneInfo

import phonenumbers
from marshmallow import ValidationError, fields, validate

# The clinic's zone while a response is written; set by the API around each dump.
CLINIC_ZONE: ContextVar[ZoneInfo] = ContextVar("clinic_zone")
# Control characters, and lone surrogates (JSON allows "\ud800"; no database can store it as UTF-8).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
IDENTIFIER = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"


class PlainText(fields.String):
    """One line of text for people: no control characters, trimmed, never empty."""

    default_error_messages = {"control": "Use plain text without control characters or line breaks."}

    def __init__(self, *, max_length: int, **kwargs):
        super().__init__(validate=validate.Length(min=1, max=max_length), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if CONTROL_CHARACTERS.search(text):
            raise self.make_error("control")
        return text.strip()


class Identifier(fields.String):
    """The id of a patient, session, chair or clinician."""

    default_error_messages = {"invalid_id": "Not a valid id."}

    def __init__(self, **kwargs):
        super().__init__(validate=validate.Regexp(IDENTIFIER, error="Not a valid id."), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if text.endswith("\n"):  # "$" in the pattern also matches before a final line break
            raise self.make_error("invalid_id")
        return text


class E164Phone(fields.String):
    """A phone number in E.164 form (+ and country code), checked against the numbering plan."""

    default_error_messages = {"invalid_phone": "Give a valid phone number in E.164 form, for example +14155550123."}

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if not text.startswith("+") or len(text) > 20:
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

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        if not 2000 <= moment.year <= 2999:
            raise ValidationError("Give a time between the years 2000 and 2999.")
        return moment


class ClinicTime(fields.DateTime):
    """An instant written in the clinic's local time with its offset (``CLINIC_ZONE``)."""

    def __init__(self, **kwargs):
        super().__init__(format="iso", **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.astimezone(CLINIC_ZONE.get()).isoformat()


__all__ = ["CLINIC_ZONE", "ClinicTime", "E164Phone", "Identifier", "OffsetDateTime", "PlainText", "ValidationError"]
