"""One log format for every process: a JSON object per line. Log identifiers, never a name, phone, e-mail or address.

Each line carries the service, and the event type, event id and correlation id (the session id) of the event being
handled, from ``shared.log_context``: ``grep <session id>`` follows one session across the three services.

Code of ours logs failures by ``describe(exc)``; the formatter makes sure that a library's ``log.exception(...)`` or
``log.warning("...: %s", exc)`` cannot leak an exception's message either (a statement's parameters, PostgreSQL's
DETAIL, the text of a message to a patient): exceptions are printed as their frames and types, never their text.
"""

import logging
import os
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from . import log_context
from .redaction import describe, format_traceback

# The plain text format, for LOG_FORMAT=text (a person reading a terminal).
FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"
LOG_FORMATS = ("json", "text")

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


class JsonLogFormatter(RedactingFormatter, JsonFormatter):
    """One JSON object per record with a fixed set of fields, exceptions redacted as by RedactingFormatter.

    Only these fields, never a record's ``extra``: what reaches a line is decided here, not by each caller.
    """

    def __init__(self) -> None:
        JsonFormatter.__init__(self, json_ensure_ascii=False)

    def format(self, record: logging.LogRecord) -> str:
        if isinstance(record.msg, Mapping):
            # python-json-logger would spread a dict's keys into the line; it is a message like any other.
            record.msg = str(record.msg)
        return super().format(record)

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        log_data.update(
            {
                "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                "level": record.levelname,
                "logger": record.name,
                "message": record.message,
                **log_context.current(),
                "thread": record.threadName,
            }
        )
        for key in ("exc_info", "stack_info"):
            if message_dict.get(key):
                log_data[key] = message_dict[key]


def configure_logging(level: str = "INFO", log_format: str | None = None) -> None:
    """Log every record through a redacting formatter: JSON lines (the default), or text with LOG_FORMAT=text."""
    log_format = (log_format or os.environ.get("LOG_FORMAT") or "json").lower()
    if log_format not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter() if log_format == "json" else RedactingFormatter(FORMAT))
    # Replaces any handler set up before, which would print exceptions with their messages.
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # Python's warnings otherwise go to stderr as text of their own: through logging, they are JSON lines too.
    logging.captureWarnings(True)
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
