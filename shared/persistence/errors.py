"""Telling a database that refuses or cannot be reached from one that refused a particular request.

The first will come back by itself: an API answers 503 with Retry-After, a consumer tries the event again later.
The second is the request's own doing, or a race it lost: a serialization failure or a deadlock is run again by the
use cases themselves, and a constraint violation is an answer in its own right.
"""

import sqlite3

import psycopg
from sqlalchemy import exc as sa

# SQLSTATE classes: connection exception, insufficient resources (disk full, too many connections), system error.
UNAVAILABLE_CLASSES = frozenset({"08", "53", "58"})
# A read-only database or a hot standby refusing writes; shutdowns, a server still starting, a dropped database.
UNAVAILABLE_STATES = frozenset({"25006", "57P01", "57P02", "57P03", "57P04", "57P05"})
# SQLite's primary result codes for a file that is locked, read-only, unreadable or full.
UNAVAILABLE_SQLITE = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
    }
)
# Without a SQLSTATE, these are what a driver raises when it gets no answer at all (connection refused, lost, closed).
NO_ANSWER = (sa.OperationalError, sa.InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)


def database_unavailable(exc: BaseException) -> bool:
    """True when ``exc``, or the database error it was raised from, says the database is down or refusing work."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        verdict = _verdict(current)
        if verdict is not None:
            return verdict
        current = current.__cause__ or current.__context__
    return False


def _verdict(exc: BaseException) -> bool | None:
    """The judgement of the first database error in a chain; None for anything that is not one."""
    if isinstance(exc, (sa.DisconnectionError, sa.TimeoutError)):  # TimeoutError: every pooled connection in use
        return True
    if isinstance(exc, sa.DBAPIError):
        return exc.connection_invalidated or _driver_verdict(exc.orig, exc)
    if isinstance(exc, (psycopg.Error, sqlite3.Error)):
        return _driver_verdict(exc, exc)
    return None


def _driver_verdict(error: BaseException | None, raised: BaseException) -> bool:
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        # Extended codes (SQLITE_IOERR_WRITE, SQLITE_READONLY_DBMOVED...) keep the primary code in their low byte.
        return code is not None and (code & 0xFF) in UNAVAILABLE_SQLITE
    sqlstate = getattr(error, "sqlstate", None)
    if sqlstate:
        return sqlstate in UNAVAILABLE_STATES or sqlstate[:2] in UNAVAILABLE_CLASSES
    return isinstance(raised, NO_ANSWER) or isinstance(error, NO_ANSWER)
