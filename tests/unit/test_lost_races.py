"""A write the database refused because a concurrent transaction won is a ConcurrentChange, so the use case reruns."""

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from services.scheduler.adapters.repositories import _conflicts_as_concurrent_change
from services.scheduler.domain.errors import ConcurrentChange


class DriverError(Exception):
    def __init__(self, message: str, sqlstate: str | None = None):
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    "error",
    [
        IntegrityError("INSERT", {}, DriverError("duplicate key", "23505")),
        IntegrityError("INSERT", {}, DriverError("conflicting key value violates exclusion constraint", "23P01")),
        OperationalError("INSERT", {}, DriverError("deadlock detected", "40P01")),
        OperationalError("INSERT", {}, DriverError("could not serialize access", "40001")),
        IntegrityError("INSERT", {}, DriverError("sessions_chair_not_double_booked")),  # SQLite's trigger
    ],
    ids=["unique", "exclusion", "deadlock", "serialization", "sqlite-trigger"],
)
def test_a_lost_race_becomes_a_concurrent_change(error):
    with pytest.raises(ConcurrentChange):
        with _conflicts_as_concurrent_change():
            raise error


@pytest.mark.parametrize(
    "error",
    [
        IntegrityError("INSERT", {}, DriverError("null value in column", "23502")),
        OperationalError("INSERT", {}, DriverError("connection refused", "08001")),
    ],
    ids=["not-null", "connection"],
)
def test_any_other_database_error_is_not_mistaken_for_a_lost_race(error):
    with pytest.raises(type(error)):
        with _conflicts_as_concurrent_change():
            raise error
