"""Field types for ids, text and instants that both SQLite and PostgreSQL can store, shared by the event contract and
every service's API, so that what one service accepts another can read.

Each type checks on the server exactly what it writes into the OpenAPI document (``pattern``, lengths), so that a
client reading the document knows what will be accepted; the one rule a JSON Schema cannot state (an instant's
range, which is judged in UTC) is in its description.
"""

import re
from datetime import UTC, datetime

from marshmallow import fields

# Letters, digits, "_" and "-": safe in a URL path without encoding, no "." (a path like /sessions/<id>.ics stays
# unambiguous, and ".." never names a parent) and no ":" (never read as a URL scheme).
ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
ID_MAX_LENGTH = 64
_ID = re.compile(ID_PATTERN)

# C0 and C1 controls, DEL, the line and paragraph separators. PostgreSQL refuses NUL in text outright.
CONTROL_CLASS = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
# Lone surrogates: JSON can carry "\ud800", no database can store it as UTF-8. Refused by the server but left out of
# the documented patterns, which regex engines of other languages (Rust's, JavaScript's u mode) could not compile.
SURROGATE_CLASS = r"\ud800-\udfff"
# What str.strip() removes besides controls: text made only of these is blank.
SPACE_CLASS = r" \xa0\u1680\u2000-\u200a\u202f\u205f\u3000"
# Bidirectional controls reorder the text around them: "Ann \u202eeeL" is shown as "Ann Lee".
BIDI_CLASS = r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# Letters by category that show nothing: the Hangul fillers.
INVISIBLE_LETTER_CLASS = r"\u115f\u1160\u3164\uffa0"

_CONTROL = re.compile(f"[{CONTROL_CLASS}{SURROGATE_CLASS}]")
_UNSTORABLE = re.compile(f"[\\x00{SURROGATE_CLASS}]")
_BIDI = re.compile(f"[{BIDI_CLASS}]")
_INVISIBLE_LETTER = re.compile(f"[{INVISIBLE_LETTER_CLASS}]")
TEXT_PATTERN = f"^[^{CONTROL_CLASS}]*[^{CONTROL_CLASS}{SPACE_CLASS}][^{CONTROL_CLASS}]*$"
# \p{L} (any letter) is ECMA-262 with the u flag, as JSON Schema reads it; the server asks str.isalpha, the same set.
NAME_PATTERN = f"^[^{CONTROL_CLASS}{BIDI_CLASS}]*(?![{INVISIBLE_LETTER_CLASS}])\\p{{L}}[^{CONTROL_CLASS}{BIDI_CLASS}]*$"

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)  # exclusive
# What a document can state of the range: the written year, which is 1999 or 3000 for the first and last hours of
# the range in some offsets; the range itself is judged after conversion to UTC.
INSTANT_PATTERN = r"^(1999|2[0-9]{3}|3000)-"
INSTANT_RULE = "Between 2000-01-01T00:00:00Z and 2999-12-31T23:59:59Z once converted to UTC."


def documented(kwargs: dict, **properties) -> dict:
    """``kwargs`` with ``properties`` added to the field's metadata, which apispec copies into the document."""
    metadata = dict(kwargs.pop("metadata", None) or {})
    for name, value in properties.items():
        if name == "description" and metadata.get("description"):
            value = f"{metadata['description']} {value}"
        metadata[name] = value
    return {**kwargs, "metadata": metadata}


def is_id(text: str) -> bool:
    """Whether ``text`` is an id; ``fullmatch``, because "$" would also match before a final line break."""
    return _ID.fullmatch(text) is not None


class Identifier(fields.String):
    """The id of a record (a patient, a session, a ride) or of a configured thing (a chair, a treatment type)."""

    default_error_messages = {"invalid_id": "Not a valid id."}

    def __init__(self, **kwargs):
        super().__init__(**documented(kwargs, pattern=f"^{ID_PATTERN}$", minLength=1, maxLength=ID_MAX_LENGTH))

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not is_id(text):
            raise self.make_error("invalid_id")
        return text


class StorableText(fields.String):
    """Text for programs (a failure's explanation): any characters both databases can store, bounded."""

    default_error_messages = {
        "unstorable": "Use text without NUL characters or lone surrogates.",
        "too_long": "Use at most {max_length} characters.",
    }

    def __init__(self, *, max_length: int, **kwargs):
        self.max_length = max_length
        super().__init__(**documented(kwargs, maxLength=max_length))

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > self.max_length:
            raise self.make_error("too_long", max_length=self.max_length)
        if _UNSTORABLE.search(text):
            raise self.make_error("unstorable")
        return text


class PlainText(fields.String):
    """One line of text for people: not blank, no control characters; stored trimmed."""

    default_error_messages = {
        "control": "Use plain text without control characters or line breaks.",
        "blank": "Write something other than spaces.",
        "too_long": "Use at most {max_length} characters.",
    }
    pattern = TEXT_PATTERN

    def __init__(self, *, max_length: int, **kwargs):
        self.max_length = max_length
        super().__init__(**documented(kwargs, pattern=self.pattern, minLength=1, maxLength=max_length))

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > self.max_length:
            raise self.make_error("too_long", max_length=self.max_length)
        if _CONTROL.search(text):
            raise self.make_error("control")
        if not text.strip():
            raise self.make_error("blank")
        self._check(text)
        return text.strip()

    def _check(self, text: str) -> None:
        """What a kind of text asks beyond plain text."""


class PersonName(PlainText):
    """A person's name as it will greet them: at least one visible letter, no bidirectional controls."""

    default_error_messages = {
        "bidi": "Remove the bidirectional control characters: they change how the name is shown.",
        "no_letter": "A name needs at least one visible letter.",
    }
    pattern = NAME_PATTERN

    def _check(self, text: str) -> None:
        if _BIDI.search(text):
            raise self.make_error("bidi")
        if not any(_visible_letter(character) for character in text):
            raise self.make_error("no_letter")


def _visible_letter(character: str) -> bool:
    return character.isalpha() and not _INVISIBLE_LETTER.match(character)


class Instant(fields.AwareDateTime):
    """An ISO 8601 instant that states its UTC offset, between the years 2000 and 2999 in UTC."""

    default_error_messages = {
        "invalid_awareness": "Give the time with its UTC offset, for example 2026-12-01T09:00:00-05:00.",
        "out_of_range": "Give a time between the years 2000 and 2999 (in UTC).",
    }

    def __init__(self, **kwargs):
        super().__init__(format="iso", **documented(kwargs, pattern=INSTANT_PATTERN, description=INSTANT_RULE))

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            in_utc = moment.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00:00+01:00 has no UTC form within datetime's range
            raise self.make_error("out_of_range") from None
        if not EARLIEST <= in_utc < LATEST:
            raise self.make_error("out_of_range")
        return moment


class UtcDateTime(Instant):
    """An instant of the event contract: an offset on the way in, written in UTC on the way out."""

    def _serialize(self, value, attr, obj, **kwargs):
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError(f"{attr} must be timezone-aware")
            value = value.astimezone(UTC)
        return super()._serialize(value, attr, obj, **kwargs)
