"""Describing a failure without the data it was handling.

An exception's message may carry what it was working on: a database error its statement's parameters or a row's
values (PostgreSQL's DETAIL), a template error the text it rendered. Logs, error bodies, events and dead-letter
headers name failures by their type, their chain of causes and, for a database, its SQLSTATE code: never the message.
"""


def describe(exc: BaseException) -> str:
    """``OperationalError (sqlstate 25006) <- ReadOnlySqlTransaction``: types and codes only, no message."""
    parts = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(parts) < 5:
        seen.add(id(current))
        part = type(current).__name__
        code = _sqlstate(current)
        if code:
            part += f" (sqlstate {code})"
        parts.append(part)
        current = current.__cause__ or current.__context__
    return " <- ".join(parts)


def _sqlstate(exc: BaseException) -> str | None:
    for candidate in (exc, getattr(exc, "orig", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str) and code.isalnum() and len(code) == 5:
            return code
    return None
