"""Why a request to transport was not carried out, in the clinic's terms (the scheduler's shape)."""


class InvalidRequest(Exception):
    """The request does not fit, field by field."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


class Refused(Exception):
    """A rule refuses the request; ``reason`` is machine-readable, the message is for people."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


class NotFound(Exception):
    def __init__(self, what: str, identifier: str):
        super().__init__(f"{what} {identifier} does not exist")
        self.what = what
        self.identifier = identifier
