"""The scheduler on PostgreSQL: its own schema, and a chair that can be booked only once, even under concurrency."""

import threading
from datetime import UTC, datetime

import psycopg
import pytest
from alembic.script import ScriptDirectory
from integration.helpers import CLOSED_PORT_URL, register_with_intake
from sqlalchemy.engine import make_url

from services.scheduler.adapters import tables as scheduler_tables
from services.scheduler.adapters.clinic_config import load_clinic
from services.scheduler.bootstrap import MIGRATIONS as SCHEDULER_MIGRATIONS
from services.scheduler.bootstrap import bootstrap
from services.transport.bootstrap import bootstrap as bootstrap_transport
from shared.settings import Settings

pytestmark = pytest.mark.integration

TOKEN = "pg-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ESCORT = {"mode": "escort", "escort_name": "Tobias Quinlan", "escort_phone": "+14155550142"}
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # Tuesday 07:00 in the clinic
STARTS_AT = "2026-12-22T10:00:00-05:00"  # a Tuesday three weeks ahead: both clinicians work at 10:00
# The migrations must create exactly the tables the code works with, whatever the latest migration is.
SCHEDULER_TABLES = set(scheduler_tables.metadata.tables) | {"alembic_version"}
HEAD = ScriptDirectory(SCHEDULER_MIGRATIONS).get_current_head()


@pytest.fixture(autouse=True)
def _default_clinic(monkeypatch):
    monkeypatch.delenv("CLINIC_CONFIG", raising=False)


def scheduler(postgres_url: str):
    # No broker is needed: bookings only write to the outbox, and no relay runs here.
    settings = Settings(
        service="scheduler",
        broker_url=CLOSED_PORT_URL,
        database_url=postgres_url,
        port=0,
        service_token=TOKEN,
        scheduler_url="http://127.0.0.1:1",
    )
    return bootstrap(settings, clinic=load_clinic(), clock=lambda: NOW)


def psql(postgres_url: str):
    url = make_url(postgres_url)
    return psycopg.connect(host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True)


def book(client, patient_id: str, *, chair_id: str = "chair-3", starts_at: str = STARTS_AT):
    return client.post(
        "/api/sessions",
        json={
            "patient_id": patient_id,
            "treatment_type": "iv_infusion",
            "starts_at": starts_at,
            "chair_id": chair_id,
            "ride_home": ESCORT,
        },
        headers=AUTH,
    )


def test_the_migrations_create_the_scheduler_tables_in_a_schema_named_scheduler(postgres_url):
    scheduler(postgres_url)

    with psql(postgres_url) as connection:
        rows = connection.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema NOT IN "
            "('pg_catalog', 'information_schema')"
        ).fetchall()
    assert {name for schema, name in rows if schema == "scheduler"} == SCHEDULER_TABLES
    assert {(schema, name) for schema, name in rows if schema != "scheduler"} == set(), "nothing lands elsewhere"


def test_the_scheduler_and_the_transport_service_share_one_database_each_in_its_own_schema(postgres_url):
    scheduler(postgres_url)
    bootstrap_transport(
        Settings(
            service="transport",
            broker_url=CLOSED_PORT_URL,
            database_url=postgres_url,
            port=0,
            service_token=TOKEN,
            scheduler_url="http://127.0.0.1:1",
        )
    )

    with psql(postgres_url) as connection:
        rows = connection.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema IN ('scheduler', 'transport')"
        ).fetchall()
    assert {name for schema, name in rows if schema == "scheduler"} == SCHEDULER_TABLES
    # Transport's own tables grow with its features; what matters here is that each service keeps to its schema.
    assert {"alembic_version", "rides", "outbox", "processed_events"} <= {n for s, n in rows if s == "transport"}


def test_running_the_migrations_again_changes_nothing(postgres_url):
    first = scheduler(postgres_url)
    patient = register_with_intake(first.app.test_client(), AUTH, "Marguerite Quinlan")

    again = scheduler(postgres_url)

    response = again.app.test_client().get(f"/api/patients/{patient}", headers=AUTH)
    assert response.status_code == 200, response.get_data(as_text=True)
    with psql(postgres_url) as connection:
        assert connection.execute("SELECT version_num FROM scheduler.alembic_version").fetchall() == [(HEAD,)]


def test_booking_the_same_chair_at_the_same_time_twice_is_refused_as_chair_unavailable(postgres_url):
    client = scheduler(postgres_url).app.test_client()
    first = book(client, register_with_intake(client, AUTH, "Marguerite Quinlan"))
    assert first.status_code == 201, first.get_data(as_text=True)

    second = book(client, register_with_intake(client, AUTH, "Ada Okafor"))

    assert second.status_code == 409, second.get_data(as_text=True)
    assert second.get_json()["reason"] == "chair_unavailable"


def test_ten_concurrent_bookings_of_the_same_chair_and_time_give_exactly_one_session(postgres_url):
    runtime = scheduler(postgres_url)
    setup_client = runtime.app.test_client()
    patients = [register_with_intake(setup_client, AUTH, f"Patient {n}") for n in range(10)]
    start = threading.Barrier(len(patients))
    responses: dict[int, tuple[int, dict]] = {}
    errors: list[BaseException] = []

    def attempt(index: int, patient_id: str) -> None:
        try:
            client = runtime.app.test_client()  # each thread its own client
            start.wait(timeout=30)
            response = book(client, patient_id)
            responses[index] = (response.status_code, response.get_json())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=attempt, args=(n, p), daemon=True) for n, p in enumerate(patients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a booking thread never finished"
    assert not errors, errors

    statuses = sorted(status for status, _ in responses.values())
    assert statuses == [201] + [409] * 9, responses
    assert {body["reason"] for status, body in responses.values() if status == 409} == {"chair_unavailable"}
    with psql(postgres_url) as connection:
        booked = connection.execute(
            "SELECT count(*) FROM scheduler.sessions WHERE chair_id = 'chair-3' AND status = 'booked'"
        ).fetchone()[0]
        events = connection.execute(
            "SELECT count(*) FROM scheduler.outbox WHERE routing_key = 'session.booked'"
        ).fetchone()[0]
    assert booked == 1
    assert events == 1


def test_concurrent_bookings_without_a_chair_give_each_working_clinician_one_and_refuse_the_rest(postgres_url):
    runtime = scheduler(postgres_url)
    setup_client = runtime.app.test_client()
    clinic = setup_client.get("/api/clinic", headers=AUTH).get_json()
    # Four chairs but two clinicians, both working on Tuesdays at 10:00: two sessions fit, not four.
    clinicians = sorted(c["id"] for c in clinic["clinicians"])
    patients = [register_with_intake(setup_client, AUTH, f"Patient {n}") for n in range(len(clinic["chairs"]) + 3)]
    start = threading.Barrier(len(patients))
    responses: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def attempt(patient_id: str) -> None:
        client = runtime.app.test_client()
        start.wait(timeout=30)
        response = client.post(
            "/api/sessions",
            json={
                "patient_id": patient_id,
                "treatment_type": "iv_infusion",
                "starts_at": STARTS_AT,
                "ride_home": ESCORT,
            },
            headers=AUTH,
        )
        with lock:
            responses.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=attempt, args=(p,), daemon=True) for p in patients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a booking thread never finished"

    booked = [body for status, body in responses if status == 201]
    refused = [body for status, body in responses if status == 409]
    assert sorted(b["clinician_id"] for b in booked) == clinicians, responses
    assert len({b["chair_id"] for b in booked}) == len(booked), "no chair twice"
    assert len(refused) == len(patients) - len(clinicians), responses
    assert {body["reason"] for body in refused} == {"no_clinician_available"}
