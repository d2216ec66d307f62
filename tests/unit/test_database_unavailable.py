"""Which database errors mean "the database is down or refusing work, try later", and which are the request's own."""

import sqlite3

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy import exc as sa

from shared.persistence.errors import database_unavailable


def postgresql_error(sqlstate: str) -> sa.DBAPIError:
    """What SQLAlchemy raises for a PostgreSQL SQLSTATE: psycopg's class for that code, wrapped as it does."""
    error = psycopg.errors.lookup(sqlstate)("the server's message")
    return sa.DBAPIError.instance("INSERT INTO patients VALUES (%s)", ("Ann Lee",), error, psycopg.Error)


def sqlite_file(tmp_path, *statements: str) -> str:
    """A SQLite file holding what ``statements`` create; its path."""
    path = str(tmp_path / "db.sqlite3")
    with sqlite3.connect(path) as connection:
        for statement in statements:
            connection.execute(statement)
    connection.close()
    return path


def sqlite_error(url: str, statement: str) -> sa.DBAPIError:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(statement))
    except sa.DBAPIError as exc:
        return exc
    finally:
        engine.dispose()
    pytest.fail(f"{statement} did not fail")


@pytest.mark.parametrize(
    "sqlstate",
    [
        "08006",  # connection failure
        "08001",  # the client could not establish a connection
        "25006",  # read-only transaction: a read-only database, or a standby after a failover
        "53100",  # disk full
        "53300",  # too many connections
        "57P01",  # admin shutdown
        "57P02",  # crash shutdown
        "57P03",  # cannot connect now: the server is starting
        "57P04",  # database dropped
        "57P05",  # idle session timeout
        "58030",  # I/O error
    ],
)
def test_a_postgresql_server_that_is_down_refuses_writes_or_lacks_resources_is_unavailable(sqlstate):
    assert database_unavailable(postgresql_error(sqlstate))


@pytest.mark.parametrize(
    "sqlstate",
    [
        "40001",  # serialization failure: the use cases run again
        "40P01",  # deadlock: likewise
        "23505",  # unique violation: an answer of its own
        "23P01",  # exclusion violation: a booking that lost its chair
        "42P01",  # undefined table: a bug, not an outage
        "22P02",  # invalid text representation: bad input that got through
        "57014",  # a statement cancelled, e.g. by its timeout: this request's doing
    ],
)
def test_a_postgresql_error_caused_by_the_request_or_a_lost_race_is_not_unavailability(sqlstate):
    assert not database_unavailable(postgresql_error(sqlstate))


def test_a_postgresql_server_that_does_not_answer_on_its_port_is_unavailable():
    engine = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/nothing", connect_args={"connect_timeout": 1})
    with pytest.raises(sa.OperationalError) as refused:
        engine.connect()

    assert database_unavailable(refused.value)


def test_a_read_only_sqlite_file_is_unavailable(tmp_path):
    path = sqlite_file(tmp_path, "CREATE TABLE patients (name TEXT)")

    refused = sqlite_error(f"sqlite:///file:{path}?mode=ro&uri=true", "INSERT INTO patients VALUES ('Ann Lee')")

    assert database_unavailable(refused)


def test_a_locked_sqlite_file_is_unavailable(tmp_path):
    path = sqlite_file(tmp_path, "CREATE TABLE patients (name TEXT)")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
        with pytest.raises(sa.OperationalError) as locked:
            with engine.begin() as connection:
                connection.execute(text("INSERT INTO patients VALUES ('Ann Lee')"))
    finally:
        holder.close()

    assert database_unavailable(locked.value)


def test_a_missing_sqlite_table_or_a_constraint_violation_is_not_unavailability(tmp_path):
    url = "sqlite:///" + sqlite_file(
        tmp_path, "CREATE TABLE patients (name TEXT UNIQUE)", "INSERT INTO patients VALUES ('Ann Lee')"
    )

    missing = sqlite_error(url, "SELECT * FROM nowhere")
    duplicate = sqlite_error(url, "INSERT INTO patients VALUES ('Ann Lee')")

    assert isinstance(missing, sa.OperationalError), "SQLite calls this an operational error too"
    assert not database_unavailable(missing)
    assert isinstance(duplicate, sa.IntegrityError)
    assert not database_unavailable(duplicate)


def test_a_pool_with_no_connection_left_or_a_dropped_connection_is_unavailable():
    assert database_unavailable(sa.TimeoutError("QueuePool limit of size 10 overflow 10 reached"))
    assert database_unavailable(sa.DisconnectionError("connection invalidated"))


def test_an_error_raised_from_an_unavailable_database_is_unavailable_and_one_raised_from_a_lost_race_is_not():
    def raised_from(cause: BaseException) -> BaseException:
        try:
            raise cause
        except BaseException as exc:
            try:
                raise RuntimeError("the use case gave up") from exc
            except RuntimeError as wrapper:
                return wrapper

    assert database_unavailable(raised_from(postgresql_error("25006")))
    assert not database_unavailable(raised_from(postgresql_error("40001")))


def test_an_error_that_has_nothing_to_do_with_a_database_is_not_unavailability():
    assert not database_unavailable(ValueError("no"))
    assert not database_unavailable(ConnectionRefusedError("the broker, not the database"))
