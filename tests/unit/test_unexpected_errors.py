"""What an API answers and logs when a route fails unexpectedly: never the failure's message."""

import logging

import psycopg
import pytest
from flask import Blueprint
from sqlalchemy import exc as sa

from shared.web import create_service_app

TOKEN = "unexpected-errors-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SECRET = "Philippa Quorndon-Vasquez"


def database_error(sqlstate: str) -> sa.DBAPIError:
    error = psycopg.errors.lookup(sqlstate)(f"DETAIL:  Key (name)=({SECRET}) already exists.")
    return sa.DBAPIError.instance("INSERT INTO patients VALUES (%(name)s)", {"name": SECRET}, error, psycopg.Error)


def failing_app():
    api = Blueprint("test_api", __name__)

    @api.post("/duplicate")
    def store_a_duplicate():
        raise database_error("23505")

    @api.post("/read-only")
    def store_on_a_standby():
        raise database_error("25006") from None

    return create_service_app(__name__, api, service_token=TOKEN, health=dict).test_client()


@pytest.fixture
def captured(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def test_an_unexpected_failure_is_a_500_logged_with_its_route_type_code_and_frames_but_not_its_message(captured):
    response = failing_app().post("/api/duplicate", headers=AUTH)

    assert response.status_code == 500
    assert response.get_json() == {"errors": {"_server": ["Internal error; it has been logged."]}}
    [record] = captured.records
    line = record.getMessage()
    assert record.levelno == logging.ERROR
    assert line.startswith("test_api.store_a_duplicate failed: IntegrityError (sqlstate 23505)")
    assert "store_a_duplicate" in line.split("Traceback (most recent call last):")[1], "the frames are kept"
    assert record.exc_info is None, "no formatter gets the chance to print the exception's text"
    assert SECRET not in line


def test_a_database_that_refuses_to_write_is_a_503_with_retry_after_and_one_warning_line(captured):
    response = failing_app().post("/api/read-only", headers=AUTH)

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.get_json() == {"errors": {"_server": ["The database is unavailable; try again shortly."]}}
    assert [(r.levelno, r.getMessage()) for r in captured.records] == [
        (logging.WARNING, "test_api.store_on_a_standby: the database is unavailable: InternalError (sqlstate 25006)")
    ]
    assert SECRET not in response.get_data(as_text=True)
