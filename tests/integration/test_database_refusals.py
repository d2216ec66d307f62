"""A database that refuses work or cannot be reached: a 503 to retry, and no patient data in any log line or answer.

Each test gives the patient details no other text holds, then searches every captured log record (its message, and
the record as the product's formatter prints it, tracebacks included) and every answer for them.
"""

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from infrastructure import POSTGRES_ADMIN_DB, POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, Database
from integration.helpers import CLOSED_PORT_URL, BrokerProxy, session_booked
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from unit.fakes_notifications import FakeChannel, FakeDirectory, FakeEscortLinks, a_session

from services.notifications import handlers
from services.notifications.adapters import tables as notification_tables
from services.notifications.adapters.templates import TemplateLibrary
from services.notifications.adapters.unit_of_work import NotificationsUnitOfWork
from services.notifications.bootstrap import MIGRATIONS as NOTIFICATION_MIGRATIONS
from services.notifications.delivery_worker import Peers, deliver
from services.notifications.domain.contacts import Contact
from services.notifications.domain.planning import Policy
from services.notifications.domain.sending import Respect
from services.scheduler.adapters.clinic_config import load_clinic
from services.scheduler.bootstrap import bootstrap
from shared.logging_setup import FORMAT, RedactingFormatter
from shared.persistence.engine import create_database_engine
from shared.persistence.errors import database_unavailable
from shared.persistence.service_database import open_service_database
from shared.redaction import describe, format_traceback
from shared.settings import Settings

pytestmark = pytest.mark.integration

TOKEN = "refusals-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
NAME = "Philippa Quorndon-Vasquez"
PHONE = "+14155550187"
EMAIL = "philippa.quorndon@example.org"
PATIENT = {"name": NAME, "phone": PHONE, "email": EMAIL, "preferred_channel": "email"}
# Every piece of the patient's details, and the words that would show a message's text had leaked.
SECRETS = (NAME, "Philippa", "Quorndon", PHONE, "4155550187", EMAIL, "Hello", "Please arrive by")
UNAVAILABLE = {"errors": {"_server": ["The database is unavailable; try again shortly."]}}


@pytest.fixture(autouse=True)
def _default_clinic(monkeypatch):
    monkeypatch.delenv("CLINIC_CONFIG", raising=False)


@pytest.fixture
def captured(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def scheduler_client(database_url: str):
    settings = Settings(
        service="scheduler",
        broker_url=CLOSED_PORT_URL,  # no relay runs: registering only writes to the database
        database_url=database_url,
        port=0,
        service_token=TOKEN,
        scheduler_url="http://127.0.0.1:1",
    )
    return bootstrap(settings, clinic=load_clinic(), clock=lambda: NOW).app.test_client()


def admin():
    return psycopg.connect(
        host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER, dbname=POSTGRES_ADMIN_DB, autocommit=True
    )


def make_read_only(database_url: str) -> None:
    """As a failover to a standby or a full disk would: every transaction from now on refuses to write."""
    name = make_url(database_url).database
    with admin() as connection:
        connection.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        # Pooled connections keep the setting they started with; dropped, they reconnect read-only.
        connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )


def leaks(records: list[logging.LogRecord], *texts: str) -> list[str]:
    """Each place a record shows one of ``texts``: in its message, or as the product prints it."""
    formatter = RedactingFormatter(FORMAT)
    found = []
    for record in records:
        for shown in (record.getMessage(), formatter.format(record)):
            found += [f"{record.name}: {text!r} in {shown!r}" for text in texts if text in shown]
    return found


def assert_unavailable(response) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.headers["Retry-After"] == "5"
    assert response.get_json() == UNAVAILABLE


def the_one_warning_naming_the_route(records, endpoint: str) -> str:
    """The error handler's only line about the request, which must name the route."""
    lines = [r for r in records if r.name == "shared.web.errors"]
    assert [(r.levelno, r.getMessage().split(":")[0]) for r in lines] == [(logging.WARNING, endpoint)]
    return lines[0].getMessage()


def test_both_engines_keep_a_statement_s_parameters_out_of_its_errors(database_url):
    engine = create_database_engine(database_url, schema="public")

    with pytest.raises(DBAPIError) as failed:
        with engine.begin() as connection:
            statement = text("INSERT INTO nowhere (name, phone) VALUES (:name, :phone)")
            connection.execute(statement, {"name": NAME, "phone": PHONE})
    engine.dispose()

    assert "INSERT INTO nowhere" in str(failed.value), "the statement itself is code, and stays"
    assert NAME not in str(failed.value)
    assert PHONE not in str(failed.value)


# --- the scheduler's API ------------------------------------------------------------------------------------------


def test_registering_a_patient_on_a_read_only_postgresql_database_answers_503_and_logs_no_patient_detail(
    postgres_url, captured
):
    client = scheduler_client(postgres_url)
    make_read_only(postgres_url)

    response = client.post("/api/patients", json=PATIENT, headers=AUTH)

    assert_unavailable(response)
    assert leaks(captured.records, *SECRETS) == []
    warning = the_one_warning_naming_the_route(captured.records, "scheduler_api.register_patient")
    assert "sqlstate 25006" in warning, "the log still says what failed"


def test_registering_a_patient_on_a_read_only_sqlite_database_answers_503_and_logs_no_patient_detail(
    tmp_path, captured
):
    path = tmp_path / "scheduler.sqlite3"
    scheduler_client(f"sqlite:///{path}")  # creates and migrates the file
    client = scheduler_client(f"sqlite:///file:{path}?mode=ro&uri=true")

    response = client.post("/api/patients", json=PATIENT, headers=AUTH)

    assert_unavailable(response)
    assert leaks(captured.records, *SECRETS) == []
    warning = the_one_warning_naming_the_route(captured.records, "scheduler_api.register_patient")
    assert "SQLITE_READONLY" in warning, "the log still says what failed"


@pytest.fixture
def proxied_postgres(postgres_server):
    """A database of its own behind a TCP forwarder that the test can cut: a server that cannot be reached."""
    proxy = BrokerProxy(target=(POSTGRES_HOST, POSTGRES_PORT))
    with Database() as database:
        yield proxy, str(make_url(database.url).set(host="127.0.0.1", port=proxy.port))
        proxy.close()


def test_a_postgresql_server_that_cannot_be_reached_is_a_503_for_writes_and_reads(proxied_postgres, captured):
    proxy, url = proxied_postgres
    client = scheduler_client(url)
    patient_id = client.post("/api/patients", json=PATIENT, headers=AUTH).get_json()["id"]
    proxy.down()

    registering = client.post("/api/patients", json=PATIENT, headers=AUTH)
    reading = client.get(f"/api/patients/{patient_id}", headers=AUTH)

    assert_unavailable(registering)
    assert_unavailable(reading)
    assert leaks(captured.records, *SECRETS) == []


@pytest.fixture
def closed_database(postgres_url):
    """A database that refuses every new connection, as one being restored or moved does."""
    name = make_url(postgres_url).database
    yield postgres_url, name
    with admin() as connection:
        connection.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')  # so that the fixture can drop it


def test_a_postgresql_database_that_refuses_connections_is_a_503(closed_database, captured):
    url, name = closed_database
    client = scheduler_client(url)
    with admin() as connection:
        connection.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        connection.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))

    response = client.post("/api/patients", json=PATIENT, headers=AUTH)

    assert_unavailable(response)
    assert leaks(captured.records, *SECRETS) == []
    the_one_warning_naming_the_route(captured.records, "scheduler_api.register_patient")


# --- the notifications service's use case ------------------------------------------------------------------------


def test_a_message_that_cannot_be_stored_on_a_read_only_database_leaves_its_text_in_no_error_and_no_log_line(
    postgres_url, captured
):
    engine, _relay = open_service_database(
        service="notifications",
        database_url=postgres_url,
        broker_url=CLOSED_PORT_URL,
        migrations=NOTIFICATION_MIGRATIONS,
        tables=notification_tables.messaging,
    )

    def uow_factory():
        return NotificationsUnitOfWork(engine, notification_tables.messaging, "notifications")

    event = session_booked()
    session = replace(a_session(starts_at=event.data["starts_at"]), session_id=event.data["session_id"])
    session = replace(session, patient_id=event.data["patient_id"])
    contact = Contact(event.data["patient_id"], NAME, PHONE, EMAIL, preferred_channel="email")
    channel = FakeChannel("email")
    peers = Peers(
        directory=FakeDirectory(contact, sessions=(session,)),
        links=FakeEscortLinks(),
        channels={"email": channel, "sms": FakeChannel("sms")},
        templates=TemplateLibrary(),
        respect=Respect(clinic_zone=ZoneInfo("America/New_York"), quiet_hours=None),
    )
    handlers.plan_messages(event, uow_factory=uow_factory, policy=Policy(grace=timedelta(0)), clock=lambda: NOW)
    with uow_factory() as uow:
        [instructions] = [
            m for m in uow.messages.for_session(session.session_id) if m.kind == "preparation_instructions"
        ]
    make_read_only(postgres_url)

    # The worker renders the text (greeting the patient by name) and must record it before it is sent: refused.
    with pytest.raises(Exception) as raised:
        deliver(instructions, uow_factory=uow_factory, peers=peers, clock=lambda: NOW)
    # As a library or a consumer that knows nothing of patients would log what it caught.
    library = logging.getLogger("some.library")
    library.error("worker failed: %s", raised.value)
    library.error("worker failed", exc_info=raised.value)
    library.error(raised.value)

    failure = raised.value
    assert database_unavailable(failure), describe(failure)
    assert "Philippa" in instructions.body, "the text that could have leaked was rendered"
    assert channel.tries == [], "nothing is sent that was not recorded first"
    assert [text for text in SECRETS if text in str(failure)] == [], "the engine hides the statement's parameters"
    assert [text for text in SECRETS if text in describe(failure) + format_traceback(failure)] == []
    assert leaks(captured.records, *SECRETS) == []
    assert len(captured.records) >= 3
