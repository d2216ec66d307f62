"""Describing a failure without the data it was handling.

An exception's message may carry what it was working on: a database error its statement's parameters or a row's
values (PostgreSQL's DETAIL), a template error the text it rendered. Logs, error bodies, events and dead-letter
headers name failures by their type, their chain of causes and, for a database, its SQLSTATE code or SQLite's
result code: never the message. Tracebacks keep their frames (file, line, function, source line), which are code.
"""

import traceback

CAUSE = "The above exception was the direct cause of the following exception:"
CONTEXT = "During handling of the above exception, another exception occurred:"


def describe(exc: BaseException | None) -> str:
    """``OperationalError (sqlstate 25006) <- ReadOnlySqlTransaction``: types and codes only, no message."""
    if exc is None:
        return "no exception"
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(parts) < 5:
        seen.add(id(current))
        parts.append(_name(current, type(current).__name__))
        current = current.__cause__ or current.__context__
    return " <- ".join(parts)


def format_traceback(exc: BaseException) -> str:
    """The traceback Python would print, every exception of the chain named by its type and code, never its message."""
    sections = []
    for link, relation in reversed(_chain(exc)):
        frames = "".join(traceback.StackSummary.extract(traceback.walk_tb(link.__traceback__)).format())
        qualified = f"{type(link).__module__}.{type(link).__qualname__}".removeprefix("builtins.")
        section = f"Traceback (most recent call last):\n{frames}" if frames else ""
        sections.append(section + _name(link, qualified))
        if relation:
            sections.append(f"\n{relation}\n")
    return "\n".join(sections)


def _chain(exc: BaseException) -> list[tuple[BaseException, str | None]]:
    """The exception, then what it was raised from or while handling, each with the sentence that links it onward."""
    links: list[tuple[BaseException, str | None]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    relation: str | None = None
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        links.append((current, relation))
        if current.__cause__ is not None:
            current, relation = current.__cause__, CAUSE
        elif current.__context__ is not None and not current.__suppress_context__:
            current, relation = current.__context__, CONTEXT
        else:
            current = None
    return links


def _name(exc: BaseException, type_name: str) -> str:
    code = _code(exc)
    return f"{type_name} ({code})" if code else type_name


def _code(exc: BaseException) -> str | None:
    for candidate in (exc, getattr(exc, "orig", None)):
        state = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(state, str) and state.isalnum() and len(state) == 5:
            return f"sqlstate {state}"
        name = getattr(candidate, "sqlite_errorname", None)
        if isinstance(name, str) and name.startswith("SQLITE_") and name.replace("_", "").isalnum():
            return name
    return None
