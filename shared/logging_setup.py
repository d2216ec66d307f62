"""One log format for every process. Log identifiers, never a name, phone, e-mail or address.

Code of ours logs failures by ``describe(exc)``; the formatter makes sure that a library's ``log.exception(...)`` or
``log.warning("...: %s", exc)`` cannot leak an exception's message either (a statement's parameters, PostgreSQL's
DETAIL, the text of a message to a patient): exceptions are printed as their frames and types, never their text.
"""

import logging
import sys
import threading
from collections.abc import Mapping

from .redaction import describe, format_traceback

FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"

log = logging.getLogger(__name__)


class RedactingFormatter(logging.Formatter):
    """A Formatter that renders every exception, attached or passed as an argument, without its message."""

    def format(self, record: logging.LogRecord) -> str:
        _redact_arguments(record)
        # Another handler's formatter may have cached the plain traceback, message included, on this record.
        record.exc_text = None
        return super().format(record)

    def formatException(self, ei) -> str:
        value = ei[1] if ei else None
        return "NoneType: None" if value is None else format_traceback(value)


def _redact_arguments(record: logging.LogRecord) -> None:
    """Replace exceptions in the message and its arguments by their description, for every handler after this one."""
    if isinstance(record.msg, BaseException):
        record.msg = describe(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(_described(arg) for arg in record.args)
    elif isinstance(record.args, Mapping):
        record.args = {key: _described(value) for key, value in record.args.items()}


def _described(value):
    return describe(value) if isinstance(value, BaseException) else value


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter(FORMAT))
    # Replaces any handler set up before, which would print exceptions with their messages.
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    for noisy in ("amqp", "kombu", "waitress.queue", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Uncaught exceptions are otherwise printed to stderr by Python itself, messages included.
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def _log_uncaught(exc_type, exc_value, exc_traceback) -> None:
    log.critical("uncaught %s", exc_type.__name__, exc_info=(exc_type, exc_value, exc_traceback))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if issubclass(args.exc_type, SystemExit):
        return  # as Python's own hook: a thread that exits is no failure
    name = args.thread.name if args.thread is not None else "unknown"
    if args.exc_value is None:
        log.critical("uncaught %s in thread %s", args.exc_type.__name__, name)
        return
    exc_info = (args.exc_type, args.exc_value, args.exc_traceback)
    log.critical("uncaught %s in thread %s", args.exc_type.__name__, name, exc_info=exc_info)
