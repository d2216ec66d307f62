"""Database engines: SQLite with serialized writes, or PostgreSQL with one schema per service."""

import logging
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

log = logging.getLogger(__name__)


# Execution options of a transaction that only reads (see SqlUnitOfWork.read_only).
READ_ONLY = {"read_only": True, "postgresql_readonly": True}


def normalized_url(url: str | URL) -> URL:
    url = make_url(url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url


def create_database_engine(url: str | URL, *, schema: str) -> Engine:
    """An engine for one service; on PostgreSQL its tables live in ``schema`` so services may share a database.

    Both hide a statement's parameters from the errors they raise: those are a patient's name, phone, a message's
    text, and an error's text may reach a log line.
    """
    url = normalized_url(url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    if url.get_backend_name() == "postgresql":
        return create_engine(
            url,
            hide_parameters=True,
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=10,
            # In UTC, the driver hands back datetimes that need no conversion.
            connect_args={"options": f"-csearch_path={schema} -ctimezone=UTC", "connect_timeout": 5},
        )
    raise ValueError(f"unsupported database {url.get_backend_name()!r}; use sqlite or postgresql")


def _sqlite_engine(url: URL) -> Engine:
    # A "file:" URI (uri=true, e.g. ?mode=ro) names a file that must already exist, and is no path to create.
    if url.database and url.database != ":memory:" and not url.query.get("uri"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, hide_parameters=True, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):
        # Let SQLAlchemy, not the driver, open transactions, so that each one can take the write lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        # A transaction that may write takes the write lock up front, so that a check followed by an insert cannot
        # interleave with another; one that only reads works on a snapshot (WAL), waits for no writer, and may
        # not write (query_only), as PostgreSQL's READ ONLY transactions may not.
        if connection.get_execution_options().get("read_only"):
            connection.exec_driver_sql("PRAGMA query_only = ON")
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine, "checkin")
    def _writable_again(dbapi_connection, _record):
        # However a read-only transaction ended, its connection goes back to the pool able to write.
        if dbapi_connection is not None:
            dbapi_connection.execute("PRAGMA query_only = OFF")

    return engine
