"""HTTP field types of the scheduler's API; ids, text and instants are the shared ones every service uses."""

import re
from contextvars import ContextVar
from zoneinfo import ZoneInfo

import phonenumbers
from marshmallow import Schema, ValidationError, fields

from shared.contract.fields import Identifier, Instant, PersonName, PlainText, documented

# The clinic's zone while a response is written; set by the API around each dump.
CLINIC_ZONE: ContextVar[ZoneInfo] = ContextVar("clinic_zone")


class E164Phone(fields.String):
    """A phone number in E.164 form (+ and country code, digits optionally grouped by single spaces or hyphens),
    checked against the numbering plan and stored without the grouping."""

    default_error_messages = {"invalid_phone": "Give a valid phone number in E.164 form, for example +14155550123."}
    FORM = r"\+[1-9](?:[ -]?[0-9]){6,14}"
    # Which numbers exist is the numbering plan's to say, not a pattern's: the format names that rule.
    DOCUMENT = {
        "format": "e164",
        "pattern": f"^{FORM}$",
        "example": "+14155550123",
        "description": "A number that exists in its country's numbering plan, in E.164 form.",
    }

    def __init__(self, **kwargs):
        super().__init__(**documented(kwargs, **self.DOCUMENT))

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        # phonenumbers alone reads far more (letters, brackets, trailing junk) than the document allows.
        if not re.fullmatch(self.FORM, text, flags=re.ASCII):
            raise self.make_error("invalid_phone")
        try:
            number = phonenumbers.parse(text, None)
        except phonenumbers.NumberParseException as exc:
            raise self.make_error("invalid_phone") from exc
        if not phonenumbers.is_valid_number(number):
            raise self.make_error("invalid_phone")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class BoundedText(PlainText):
    """Plain text of at least ``min_length`` characters as sent, which is what the document's minLength states."""

    default_error_messages = {"too_short": "Use at least {min_length} characters."}

    def __init__(self, *, min_length: int, max_length: int, **kwargs):
        super().__init__(max_length=max_length, **kwargs)
        self.min_length = min_length
        self.metadata["minLength"] = min_length

    def _check(self, text: str) -> None:
        if len(text) < self.min_length:
            raise self.make_error("too_short", min_length=self.min_length)


class RideHomeChoice(fields.Field):
    """One of several schemas, chosen by the object's ``mode``; a field of another mode is refused by name.

    Documented as ``anyOf`` the schemas (registered as components under their class names) or null, so that a client
    reading the document sees which fields go with which mode.
    """

    default_error_messages = {"invalid": "Give an object with a mode: {modes}."}

    def __init__(self, schemas: dict[str, type[Schema]], **kwargs):
        self.schemas = schemas
        choices = [{"$ref": f"#/components/schemas/{schema.__name__}"} for schema in schemas.values()]
        if kwargs.get("allow_none"):
            choices.append({"type": "object", "nullable": True, "enum": [None]})
        super().__init__(**documented(kwargs, anyOf=choices))

    def _deserialize(self, value, attr, data, **kwargs):
        modes = ", ".join(self.schemas)
        if not isinstance(value, dict):
            raise self.make_error("invalid", modes=modes)
        if "mode" not in value:
            raise ValidationError({"mode": ["Missing data for required field."]})
        schema = self.schemas.get(value["mode"]) if isinstance(value["mode"], str) else None
        if schema is None:
            raise ValidationError({"mode": [f"Must be one of: {modes}."]})
        own = schema().fields
        foreign = {
            name: [f"Only with mode {mode}."]
            for mode, other in self.schemas.items()
            for name in other().fields
            if name in value and name not in own
        }
        try:
            loaded = schema().load({name: v for name, v in value.items() if name not in foreign})
        except ValidationError as exc:
            raise ValidationError({**exc.messages, **foreign}) from exc
        if foreign:
            raise ValidationError(foreign)
        return loaded


class StrictBoolean(fields.Boolean):
    """JSON true or false, nothing else: marshmallow's Boolean would also take 1, "yes" or "true" as the document does
    not allow."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


# An ISO 8601 instant that must state its UTC offset; a naive time is ambiguous and refused.
OffsetDateTime = Instant


class ClinicTime(fields.DateTime):
    """An instant written in the clinic's local time with its offset (``CLINIC_ZONE``)."""

    def __init__(self, **kwargs):
        super().__init__(format="iso", **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.astimezone(CLINIC_ZONE.get()).isoformat()


__all__ = [
    "BoundedText",
    "CLINIC_ZONE",
    "ClinicTime",
    "E164Phone",
    "Identifier",
    "OffsetDateTime",
    "PersonName",
    "PlainText",
    "RideHomeChoice",
    "StrictBoolean",
    "ValidationError",
]
