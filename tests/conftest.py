"""Fixtures for every tier: a vhost and a database of each test's own, on the real servers."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from infrastructure import Database, Vhost, ensure_postgres, ensure_rabbitmq  # noqa: E402

from shared import log_context  # noqa: E402

NO_LOG_CONTEXT = dict.fromkeys(log_context.FIELDS)


@pytest.fixture(autouse=True)
def no_log_context_left_behind():
    """Whatever a test ran on this thread (a request through a test client, a bootstrap, a handler) must leave no
    service or event in the log context: on a server thread, the next log line would be labelled with it."""
    yield
    assert log_context.current() == NO_LOG_CONTEXT, "the log context was left set on the test's thread"


@pytest.fixture(scope="session")
def rabbitmq_server():
    ensure_rabbitmq()


@pytest.fixture(scope="session")
def postgres_server():
    ensure_postgres()


@pytest.fixture
def vhost(rabbitmq_server):
    with Vhost() as vhost:
        yield vhost


@pytest.fixture
def broker_url(vhost) -> str:
    return vhost.url


@pytest.fixture
def postgres_url(postgres_server) -> str:
    with Database() as database:
        yield database.url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """Runs the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'service.sqlite3'}"
    request.getfixturevalue("postgres_server")
    database = Database().__enter__()
    request.addfinalizer(lambda: database.__exit__(None, None, None))
    return database.url
