"""The shared field types: ids, text, names and instants, as every API and the event contract read them; and the
patterns they write into the OpenAPI document say the same as the server."""

import re
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest
from marshmallow import Schema, ValidationError

from shared.contract.fields import (
    CONTROL_CLASS,
    ID_PATTERN,
    INSTANT_PATTERN,
    NAME_PATTERN,
    SPACE_CLASS,
    TEXT_PATTERN,
    Identifier,
    Instant,
    PersonName,
    PlainText,
)
from shared.web.app import IdConverter


class Form(Schema):
    id = Identifier()
    note = PlainText(max_length=20)
    name = PersonName(max_length=20)
    at = Instant()


def load(field: str, value):
    return Form().load({field: value})[field]


def refusal(field: str, value) -> list[str]:
    with pytest.raises(ValidationError) as refused:
        Form().load({field: value})
    return refused.value.messages[field]


@pytest.mark.parametrize(
    "value", ["a", "A9", "session-1", "iv_infusion", "0" * 64, "3f2b8c1e-0d4a-4b7e-9a51-2c6d8e0f1a2b"]
)
def test_an_id_of_letters_digits_dashes_and_underscores_is_accepted(value):
    assert load("id", value) == value


@pytest.mark.parametrize(
    "value",
    ["", "x" * 65, "-a", "_a", "a.b", "a:b", "../clinic", "a/b", "a b", "a\n", "a\r\n", "a\x00", "\ud800", "é", "a%00"],
)
def test_anything_else_is_not_a_valid_id(value):
    assert refusal("id", value) == ["Not a valid id."]


def test_the_route_converter_takes_the_same_pattern_as_the_field():
    assert IdConverter.regex == ID_PATTERN


@pytest.mark.parametrize("value", ["Fever", "  Fever  ", "Fièvre 38°", "发烧", "a\u00a0b"])
def test_plain_text_is_accepted_and_stored_trimmed(value):
    assert load("note", value) == value.strip()


@pytest.mark.parametrize(
    "value, message",
    [
        ("Fe\x00ver", "control"),
        ("Fever\n", "control"),
        ("Fe\u2028ver", "control"),
        ("Fe\x85ver", "control"),
        ("Fe\ud800ver", "control"),
        ("   ", "spaces"),
        ("\u3000\u00a0", "spaces"),
        ("", "spaces"),
        ("x" * 21, "at most 20"),
    ],
)
def test_plain_text_refuses_controls_surrogates_blanks_and_overlong_text(value, message):
    [refused] = refusal("note", value)

    assert message in refused


@pytest.mark.parametrize("value", ["Ann Lee", "Dr. Patel", "O'Neil-Smith", "李雷", "Zoë", "Ann \u200dLee", "محمد"])
def test_a_name_with_a_visible_letter_is_accepted(value):
    assert load("name", value) == value


@pytest.mark.parametrize(
    "value, message",
    [
        ("\u200b\u200b", "visible letter"),
        ("\u3164", "visible letter"),
        ("\u115f\u200b", "visible letter"),
        ("42", "visible letter"),
        ("...", "visible letter"),
        ("Ann \u202eeeL", "bidirectional"),
        ("\u2066Ann\u2069", "bidirectional"),
        ("Ann\u200f", "bidirectional"),
        ("Ann\u061c", "bidirectional"),
        ("Ann\x00", "control"),
    ],
)
def test_a_name_without_a_visible_letter_or_with_bidirectional_controls_is_refused(value, message):
    [refused] = refusal("name", value)

    assert message in refused


@pytest.mark.parametrize(
    "value",
    [
        "2000-01-01T00:00:00+00:00",
        "2000-01-01T09:00:00+09:00",
        "2999-12-31T23:59:59+00:00",
        "1999-12-31T20:00:00-05:00",
    ],
)
def test_an_instant_in_the_years_2000_to_2999_in_utc_is_accepted_with_its_offset(value):
    assert load("at", value) == datetime.fromisoformat(value)


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00+00:00",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "1999-12-31T23:59:59+00:00",
        "2000-01-01T00:00:00+14:00",
        "2999-12-31T23:00:00-05:00",
        "3000-01-01T00:00:00+00:00",
    ],
)
def test_an_instant_outside_the_years_2000_to_2999_once_in_utc_is_refused(value):
    assert refusal("at", value) == ["Give a time between the years 2000 and 2999 (in UTC)."]


def test_an_instant_without_an_offset_is_refused():
    assert "UTC offset" in refusal("at", "2027-01-05T09:00:00")[0]


def test_the_spaces_the_text_pattern_names_are_exactly_what_stripping_removes_besides_controls():
    controls, spaces = re.compile(f"[{CONTROL_CLASS}]"), re.compile(f"[{SPACE_CLASS}]")

    stripped = {chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace() and not controls.match(chr(c))}

    assert stripped == {chr(c) for c in range(sys.maxunicode + 1) if spaces.match(chr(c))}


def python_pattern(pattern: str) -> re.Pattern:
    """The document's ECMA-262 pattern in Python's dialect: \\p{L} as the letters unicodedata knows."""
    letters = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isalpha() and not 0xD800 <= c <= 0xDFFF)
    return re.compile(pattern.replace(r"\p{L}", f"[{re.escape(letters)}]").removesuffix("$") + r"\Z")


# Lone surrogates are left out: the server refuses them, the documented patterns cannot name them (SURROGATE_CLASS).
SAMPLES = [
    "Ann Lee",
    " Ann",
    "Ann\n",
    "\u200b\u200b",
    "\u3164",
    "Ann \u202eeeL",
    "42",
    "  ",
    "",
    "Zoë",
    "a\x00",
    "a\x9f",
    "session-1",
    "-a",
    "a.b",
    "x" * 64,
    "x" * 65,
    "\u00a0x",
    "李",
    "a\u2028",
]


@pytest.mark.parametrize("field, pattern", [("note", TEXT_PATTERN), ("name", NAME_PATTERN), ("id", f"^{ID_PATTERN}$")])
def test_each_documented_pattern_accepts_exactly_what_the_server_accepts(field, pattern):
    documented = python_pattern(pattern)
    limit = {"note": 20, "name": 20, "id": 64}[field]

    for sample in SAMPLES:
        allowed = documented.match(sample) is not None and len(sample) <= limit
        try:
            load(field, sample)
            accepted = True
        except ValidationError:
            accepted = False
        assert allowed == accepted, (field, sample)


def test_the_documented_instant_pattern_lets_every_accepted_year_through():
    for moment in (datetime(2000, 1, 1, tzinfo=UTC), datetime(2999, 12, 31, 23, tzinfo=UTC)):
        for hours in (-14, 0, 14):
            written = moment.astimezone(timezone(timedelta(hours=hours))).isoformat()
            assert not accepted_instant(written) or re.match(INSTANT_PATTERN, written), written


def accepted_instant(written: str) -> bool:
    try:
        load("at", written)
        return True
    except ValidationError:
        return False
