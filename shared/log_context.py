"""What a log line is about: the service, and the event being handled or published, kept in context variables.

Set by the consumer around handling a message, by the runtime for each of its threads (threads do not inherit
context variables), and by the Flask app around each request. The embedded default runs three services in one process,
so the service is context, never a process-wide setting. Identifiers only: never a name, phone, e-mail or address.
"""

import contextvars
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

FIELDS = ("service", "event_type", "event_id", "correlation_id")

_vars: dict[str, contextvars.ContextVar[str | None]] = {
    name: contextvars.ContextVar(f"log_{name}", default=None) for name in FIELDS
}

P = ParamSpec("P")
R = TypeVar("R")


def current() -> dict[str, str | None]:
    """Every field, None where nothing set it."""
    return {name: var.get() for name, var in _vars.items()}


@contextmanager
def bound(**fields: str | None) -> Iterator[None]:
    """Set some fields for the duration of a block; they are restored afterwards, even on an exception."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"not a log context field: {sorted(unknown)}")
    tokens = [(_vars[name], _vars[name].set(value)) for name, value in fields.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def as_service(service: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a function whose log lines belong to ``service`` (a bootstrap, a thread's target)."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with bound(service=service):
                return function(*args, **kwargs)

        return wrapper

    return decorate
