"""Reading what a page's form sent: each value checked by the same rules as the API's (its marshmallow schemas), each
problem kept as one sentence for the field it belongs to, so the page can show it next to that field."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from marshmallow import Schema, ValidationError

from shared.contract.fields import is_id

# A form field longer than this is refused before any rule reads it (the longest real one is an address).
LONGEST_VALUE = 1000


def text(form, name: str) -> str:
    """A field's value, trimmed; too long a value is cut, and the rules then refuse it as too long."""
    value = form.get(name, "")
    return value.strip()[: LONGEST_VALUE + 1] if isinstance(value, str) else ""


def first_messages(messages: dict, prefix: str = "") -> dict[str, str]:
    """marshmallow's nested messages as one sentence per field: {"escort_phone": "Give a valid phone..."}."""
    flat: dict[str, str] = {}
    for name, value in messages.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            flat.update(first_messages(value))
        elif isinstance(value, list) and value:
            first = value[0]
            flat[key] = first if isinstance(first, str) else next(iter(first_messages({"": first}).values()), "")
        else:
            flat[key] = str(value)
    return flat


def checked(schema: Schema, data: dict) -> tuple[dict, dict[str, str]]:
    """``data`` loaded by ``schema``, or the problems field by field."""
    try:
        return schema.load(data), {}
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        return {}, first_messages(messages)


def day(value: str, *, required: str | None = None) -> tuple[date | None, str | None]:
    """A YYYY-MM-DD day (as a date input sends it), or the problem with it."""
    if not value:
        return None, required
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        return None, "Give the day as YYYY-MM-DD."
    if not 2000 <= parsed.year <= 2999:
        return None, "Give a day between the years 2000 and 2999."
    return parsed, None


def instant(value: str) -> datetime | None:
    """A start time as the page offered it (ISO 8601 with its offset), or None."""
    if not value or len(value) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None and 2000 <= parsed.year <= 2999 else None


def identifier(value: str) -> str | None:
    return value if value and is_id(value) else None


def day_window(on: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The clinic day from local midnight to the next."""
    return datetime.combine(on, time(0), tzinfo=zone), datetime.combine(on + timedelta(days=1), time(0), tzinfo=zone)
