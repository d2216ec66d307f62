"""Migrations on a scheduler database already in use, on SQLite and on PostgreSQL.

0003 (the ride home): sessions booked before it keep every field and get no ride status yet, the database still
refuses a double-booked chair (SQLite's triggers, PostgreSQL's exclusion constraints), and it can be undone and applied
again. 0004 (language and reminders opt-out): patients registered before it are written to in English and get
reminders, keep every other field, can change their preferences, and it can be undone and applied again."""

from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from services.scheduler.adapters.clinic_config import load_clinic
from services.scheduler.bootstrap import MIGRATIONS, bootstrap
from shared.persistence import create_database_engine
from shared.settings import Settings

pytestmark = pytest.mark.integration

TOKEN = "migration-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SESSION = {
    "id": "session-before-0003",
    "patient_id": "patient-1",
    "treatment_type": "iv_infusion",
    "chair_id": "chair-1",
    "starts_at": "2027-01-05 14:00:00.000000",
    "treatment_ends_at": "2027-01-05 14:45:00.000000",
    "recovery_ends_at": "2027-01-05 15:30:00.000000",
    "chair_free_at": "2027-01-05 15:45:00.000000",
    "status": "booked",
    "ride_home_mode": "escort",
    "escort_name": "Bo Lee",
    "escort_phone": "+14155550124",
    "created_at": "2026-11-30 12:00:00.000000",
}
INSERT_SESSION = (
    "INSERT INTO sessions (id, patient_id, treatment_type, chair_id, starts_at, treatment_ends_at, recovery_ends_at, "
    "chair_free_at, status, ride_home_mode, escort_name, escort_phone, created_at) VALUES (:id, :patient_id, "
    ":treatment_type, :chair_id, :starts_at, :treatment_ends_at, :recovery_ends_at, :chair_free_at, :status, "
    ":ride_home_mode, :escort_name, :escort_phone, :created_at)"
)
NEW_COLUMNS = {"dropoff_address", "ride_status", "ride_status_at", "check_in_override_reason"}
PATIENT_COLUMNS = {"language", "reminders_opt_out"}
INSERT_PATIENT = (
    "INSERT INTO patients (id, full_name, phone, email, preferred_channel, created_at) "
    "VALUES ('patient-1', 'Ann Lee', '+14155550123', 'ann@example.org', 'email', '2026-11-30 12:00:00')"
)


def migrate(engine, revision: str, *, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql('CREATE SCHEMA IF NOT EXISTS "scheduler"')
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def columns(engine, table_name: str = "sessions") -> set[str]:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            return {row[1] for row in connection.exec_driver_sql(f"PRAGMA table_info({table_name})")}
        query = (
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'scheduler' "
            f"AND table_name = '{table_name}'"
        )
        return set(connection.exec_driver_sql(query).scalars())


def scheduler(database_url: str):
    """The scheduler as it starts: migrating its database to the newest revision."""
    return bootstrap(
        Settings(
            service="scheduler",
            broker_url="memory://",
            database_url=database_url,
            port=0,
            service_token=TOKEN,
            scheduler_url="http://127.0.0.1:1",
        ),
        clinic=load_clinic(),
        clock=lambda: NOW,
    )


def double_booking_refused(engine) -> bool:
    """Whether the database itself refuses a second holding session of the same patient in the same chair at once."""
    with engine.connect() as connection:
        try:
            with connection.begin():
                connection.execute(text(INSERT_SESSION), {**SESSION, "id": "double-booked"})
        except IntegrityError as exc:
            return "not_double_booked" in str(exc.orig)
    return False


@pytest.fixture
def engine(database_url):
    engine = create_database_engine(database_url, schema="scheduler")
    yield engine
    engine.dispose()


def test_a_session_booked_before_the_ride_home_migration_reads_back_unchanged_with_no_ride_status(database_url, engine):
    migrate(engine, "0002")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO patients (id, full_name, phone, preferred_channel, created_at) "
                "VALUES ('patient-1', 'Ann Lee', '+14155550123', 'sms', '2026-11-30 12:00:00')"
            )
        )
        connection.execute(text(INSERT_SESSION), SESSION)

    runtime = scheduler(database_url)
    shown = runtime.app.test_client().get(f"/api/sessions/{SESSION['id']}", headers=AUTH).get_json()

    assert NEW_COLUMNS <= columns(engine)
    assert shown["ride_home"] == {
        "mode": "escort",
        "escort_name": "Bo Lee",
        "escort_phone": "+14155550124",
        "dropoff_address": None,
    }
    assert (shown["ride_status"], shown["ride_status_at"], shown["check_in_override_reason"]) == (None, None, None)
    assert shown["starts_at"] == "2027-01-05T09:00:00-05:00"
    assert double_booking_refused(engine)


def test_the_ride_home_migration_can_be_undone_and_applied_again_keeping_the_double_booking_guard(engine):
    migrate(engine, "0003")

    migrate(engine, "0002", down=True)
    undone = columns(engine)
    migrate(engine, "0003")

    assert not NEW_COLUMNS & undone
    assert NEW_COLUMNS <= columns(engine)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO patients (id, full_name, phone, preferred_channel, created_at) "
                "VALUES ('patient-1', 'Ann Lee', '+14155550123', 'sms', '2026-11-30 12:00:00')"
            )
        )
        connection.execute(text(INSERT_SESSION), SESSION)
    assert double_booking_refused(engine)


def test_a_patient_registered_before_the_language_migration_is_written_to_in_english_and_gets_reminders(
    database_url, engine
):
    migrate(engine, "0003")
    with engine.begin() as connection:
        connection.execute(text(INSERT_PATIENT))

    client = scheduler(database_url).app.test_client()
    shown = client.get("/api/patients/patient-1", headers=AUTH).get_json()

    assert PATIENT_COLUMNS <= columns(engine, "patients")
    assert shown == {
        "id": "patient-1",
        "name": "Ann Lee",
        "phone": "+14155550123",
        "email": "ann@example.org",
        "preferred_channel": "email",
        "language": "en",
        "reminders_opt_out": False,
        "intake": None,
    }
    changed = client.patch("/api/patients/patient-1", json={"language": "es", "reminders_opt_out": True}, headers=AUTH)
    assert changed.status_code == 200, changed.get_json()
    assert client.get("/api/patients/patient-1", headers=AUTH).get_json() == {
        **shown,
        "language": "es",
        "reminders_opt_out": True,
    }


def test_the_language_migration_can_be_undone_and_applied_again_keeping_the_patients(engine):
    migrate(engine, "0004")
    with engine.begin() as connection:
        connection.execute(text(INSERT_PATIENT))
        connection.execute(text("UPDATE patients SET language = 'es', reminders_opt_out = :yes"), {"yes": True})

    migrate(engine, "0003", down=True)
    undone = columns(engine, "patients")
    migrate(engine, "0004")

    assert not PATIENT_COLUMNS & undone
    assert PATIENT_COLUMNS <= columns(engine, "patients")
    with engine.connect() as connection:
        row = connection.execute(text("SELECT full_name, language, reminders_opt_out FROM patients")).one()
    assert (row.full_name, row.language, bool(row.reminders_opt_out)) == ("Ann Lee", "en", False)
    assert double_booking_survives(engine)


def double_booking_survives(engine) -> bool:
    """0004 leaves the sessions table, and so its double-booking guard, as it was."""
    with engine.begin() as connection:
        connection.execute(text(INSERT_SESSION), SESSION)
    return double_booking_refused(engine)
