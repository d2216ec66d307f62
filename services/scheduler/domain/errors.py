"""Why a request was not carried out, in the clinic's terms."""


class InvalidRequest(Exception):
    """The request names something that does not fit (an unknown treatment, a missing ride): field by field."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


class Refused(Exception):
    """A rule of the clinic refuses the request; ``reason`` is machine-readable, the message is for people."""

    def __init__(self, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.details = details or {}


class NotFound(Exception):
    def __init__(self, what: str, identifier: str):
        super().__init__(f"{what} {identifier} does not exist")
        self.what = what
        self.identifier = identifier


class ConcurrentChange(Exception):
    """The database refused a write because another transaction got there first; the use case may run again."""
