"""Failures described and logged by their types, codes and frames, never by their messages."""

import logging
import sqlite3
import sys
import threading

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy import exc as sa

from shared.logging_setup import FORMAT, JsonLogFormatter, RedactingFormatter, configure_logging
from shared.redaction import describe, format_traceback

SECRET = "Philippa Quorndon-Vasquez"


def insert_the_patient(connection) -> None:
    connection.execute(text("INSERT INTO nowhere (name) VALUES (:name)"), {"name": SECRET})


def statement_error() -> sa.DBAPIError:
    """A SQLAlchemy error whose message holds the statement's parameters, as every engine's did before they hid them."""
    engine = create_engine("sqlite://")
    try:
        with engine.begin() as connection:
            insert_the_patient(connection)
    except sa.DBAPIError as exc:
        assert SECRET in str(exc), "the message really carries the patient's name"
        return exc
    pytest.fail("the insert did not fail")


def postgresql_read_only_error() -> sa.DBAPIError:
    """PostgreSQL's refusal, raised from psycopg's error as SQLAlchemy raises it."""
    error = psycopg.errors.lookup("25006")(f"cannot execute INSERT for {SECRET}")
    try:
        raise sa.DBAPIError.instance("INSERT ...", (SECRET,), error, psycopg.Error) from error
    except sa.DBAPIError as exc:
        return exc


def record_of(message: str, *args, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("some.library", logging.ERROR, __file__, 1, message, args, exc_info)


def formatted(record: logging.LogRecord) -> str:
    return RedactingFormatter(FORMAT).format(record)


# --- describe and format_traceback --------------------------------------------------------------------------------


def test_a_failure_is_described_by_its_types_and_sqlstate_without_its_message():
    description = describe(postgresql_read_only_error())

    assert description == "InternalError (sqlstate 25006) <- ReadOnlySqlTransaction (sqlstate 25006)"


def test_a_sqlite_failure_is_described_by_its_result_code():
    description = describe(statement_error())

    assert description.startswith("OperationalError (SQLITE_ERROR)")
    assert SECRET not in description


def test_a_traceback_keeps_its_frames_and_types_and_drops_every_message_of_the_chain():
    try:
        try:
            raise KeyError(f"{SECRET} (cause)")
        except KeyError as cause:
            raise ValueError(f"{SECRET} (effect)") from cause
    except ValueError as exc:
        rendered = format_traceback(exc)

    assert SECRET not in rendered
    assert rendered.count("Traceback (most recent call last):") == 2
    assert rendered.index("KeyError") < rendered.index("direct cause") < rendered.index("ValueError")
    assert "test_a_traceback_keeps_its_frames_and_types_and_drops_every_message_of_the_chain" in rendered
    assert 'raise ValueError(f"{SECRET} (effect)") from cause' in rendered, "the source line, which is code"
    assert __file__ in rendered


def test_a_database_error_s_traceback_shows_where_it_was_raised_and_its_code():
    rendered = format_traceback(statement_error())

    assert SECRET not in rendered
    assert "insert_the_patient" in rendered
    assert "sqlalchemy.exc.OperationalError (SQLITE_ERROR)" in rendered
    assert "sqlite3.OperationalError (SQLITE_ERROR)" in rendered


# --- the formatter ---------------------------------------------------------------------------------------------------


def test_a_logged_exception_is_printed_with_its_frames_and_types_but_not_its_message():
    line = formatted(record_of("handler failed", exc=statement_error()))

    assert SECRET not in line
    assert "handler failed" in line
    assert "insert_the_patient" in line
    assert "OperationalError (SQLITE_ERROR)" in line


def test_an_exception_passed_as_an_argument_is_printed_as_its_description():
    record = record_of("handler failed: %s (%r)", statement_error(), postgresql_read_only_error())

    line = formatted(record)

    assert SECRET not in line
    assert SECRET not in record.getMessage(), "handlers after this one see the description too"
    assert "handler failed: OperationalError (SQLITE_ERROR)" in line
    assert "InternalError (sqlstate 25006)" in line


def test_an_exception_logged_as_the_message_itself_or_in_a_mapping_is_printed_as_its_description():
    alone = record_of("placeholder")
    alone.msg = statement_error()
    mapped = record_of("failed: %(error)s", {"error": statement_error()})

    assert SECRET not in formatted(alone)
    assert formatted(mapped).endswith("failed: OperationalError (SQLITE_ERROR) <- OperationalError (SQLITE_ERROR)")


def test_a_traceback_another_formatter_cached_on_the_record_is_not_reused():
    record = record_of("handler failed", exc=statement_error())
    assert SECRET in logging.Formatter().format(record), "a plain formatter prints the message, and caches it"

    assert SECRET not in formatted(record)
    assert SECRET not in logging.Formatter().format(record), "and a plain one after it reuses the redacted text"


def test_a_log_call_with_exc_info_and_no_exception_prints_what_logging_prints():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "nothing raised", None, (None, None, None))

    assert formatted(record).endswith("nothing raised\nNoneType: None")


# --- configure_logging ----------------------------------------------------------------------------------------------


@pytest.fixture
def pristine_logging(monkeypatch):
    """Root logging and the exception hooks as a fresh process has them, put back afterwards."""
    monkeypatch.setattr(logging.root, "handlers", [])
    monkeypatch.setattr(logging.root, "level", logging.WARNING)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    monkeypatch.delenv("LOG_FORMAT", raising=False)


def test_configure_logging_prints_every_record_through_the_redacting_formatter(pristine_logging, capsys):
    configure_logging("info")
    logging.getLogger("some.library").exception("handler failed: %s", statement_error(), exc_info=statement_error())

    printed = capsys.readouterr().err
    # JSON lines by default, through a subclass of the redacting formatter.
    assert [type(h.formatter) for h in logging.root.handlers] == [JsonLogFormatter]
    assert isinstance(logging.root.handlers[0].formatter, RedactingFormatter)
    assert logging.root.level == logging.INFO
    assert "handler failed: OperationalError (SQLITE_ERROR)" in printed
    assert "insert_the_patient" in printed
    assert SECRET not in printed


def test_an_exception_that_kills_a_thread_is_logged_without_its_message(pristine_logging, capsys):
    configure_logging()

    def the_worker():
        raise sqlite3.OperationalError(f"disk I/O error while writing {SECRET}")

    worker = threading.Thread(target=the_worker, name="relay")
    worker.start()
    worker.join()

    printed = capsys.readouterr().err
    assert "uncaught OperationalError in thread relay" in printed
    assert "the_worker" in printed
    assert SECRET not in printed
