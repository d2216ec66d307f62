"""The treatment day's safety gates on SQLite and on PostgreSQL: migration 0006, checkpoints marked through the API
and kept in their table, the start that moves the session's times or is refused for the chair, and the discharge gate
with its override, checked against what the database holds.

The clock is set by each test; the default clinic applies (an IV infusion: 45 minutes, then 45 of monitoring; its
vitals before the infusion, at its end and before discharge).
"""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from alembic.config import Config
from fakes import ride_reported
from integration.helpers import register_with_intake
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from services.scheduler.adapters.clinic_config import load_clinic
from services.scheduler.bootstrap import MIGRATIONS, bootstrap
from shared.messaging import EventConsumer
from shared.persistence import create_database_engine
from shared.settings import Settings

pytestmark = pytest.mark.integration

TOKEN = "gates-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ZONE = ZoneInfo("America/New_York")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # Tuesday 07:00 in the clinic
ESCORT = {"mode": "escort", "escort_name": "Bo Lee", "escort_phone": "+14155550124"}
NEW_COLUMNS = {"booked_starts_at", "start_override_reason", "discharge_override_reason"}


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set_local(self, wall: str) -> None:
        self.now = local(wall)


def local(wall: str) -> datetime:
    return datetime.fromisoformat(wall).replace(tzinfo=ZONE)


@pytest.fixture
def engine(database_url):
    engine = create_database_engine(database_url, schema="scheduler")
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


def scheduler(database_url: str, clock):
    """The scheduler as it starts: migrating its database to the newest revision."""
    settings = Settings(
        service="scheduler",
        broker_url="memory://",
        database_url=database_url,
        port=0,
        service_token=TOKEN,
        scheduler_url="http://127.0.0.1:1",
    )
    return bootstrap(settings, clinic=load_clinic(), clock=clock)


@pytest.fixture
def runtime(database_url, clock, monkeypatch):
    monkeypatch.delenv("CLINIC_CONFIG", raising=False)
    return scheduler(database_url, clock)


@pytest.fixture
def client(runtime):
    return runtime.app.test_client()


def rows(engine, sql: str, **params) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql), params)]


def infusion(runtime, client, starts_at: str, name: str = "Ann Lee") -> str:
    """An infusion booked with an escort whose ride transport reported confirmed."""
    patient_id = register_with_intake(client, AUTH, name)
    body = {"patient_id": patient_id, "treatment_type": "iv_infusion", "starts_at": starts_at, "ride_home": ESCORT}
    response = client.post("/api/sessions", json=body, headers=AUTH)
    assert response.status_code == 201, response.get_data(as_text=True)
    session_id = response.get_json()["id"]
    [consumer] = [worker for worker in runtime.workers if isinstance(worker, EventConsumer)]
    consumer.handlers["ride.confirmed"](ride_reported(session_id))
    return session_id


def utc(stored) -> datetime:
    """An instant as either database keeps it: timestamptz, or SQLite's UTC text."""
    instant = stored if isinstance(stored, datetime) else datetime.fromisoformat(stored)
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant


def post(client, session_id: str, step: str, body=None):
    return client.post(f"/api/sessions/{session_id}/{step}", json=body, headers=AUTH)


# --- migration 0006 ------------------------------------------------------------------------------------------------


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


SESSION = {
    "id": "session-before-0006",
    "patient_id": "patient-1",
    "starts_at": "2027-01-05 14:00:00.000000",
    "treatment_ends_at": "2027-01-05 14:45:00.000000",
    "recovery_ends_at": "2027-01-05 15:30:00.000000",
    "chair_free_at": "2027-01-05 15:45:00.000000",
}
INSERT_PATIENT = (
    "INSERT INTO patients (id, full_name, phone, preferred_channel, created_at) "
    "VALUES ('patient-1', 'Ann Lee', '+14155550123', 'sms', '2026-11-30 12:00:00')"
)
INSERT_SESSION = (
    "INSERT INTO sessions (id, patient_id, treatment_type, chair_id, starts_at, treatment_ends_at, recovery_ends_at, "
    "chair_free_at, status, ride_home_mode, escort_name, escort_phone, created_at) VALUES (:id, :patient_id, "
    "'iv_infusion', 'chair-1', :starts_at, :treatment_ends_at, :recovery_ends_at, :chair_free_at, 'booked', 'escort', "
    "'Bo Lee', '+14155550124', '2026-11-30 12:00:00.000000')"
)


def double_booking_refused(engine) -> bool:
    with engine.connect() as connection:
        try:
            with connection.begin():
                connection.execute(text(INSERT_SESSION), {**SESSION, "id": "double-booked"})
        except IntegrityError as exc:
            return "not_double_booked" in str(exc.orig)
    return False


def test_a_session_booked_before_migration_0006_shows_its_checkpoints_open_and_no_override(database_url, engine, clock):
    migrate(engine, "0005")
    with engine.begin() as connection:
        connection.execute(text(INSERT_PATIENT))
        connection.execute(text(INSERT_SESSION), SESSION)

    shown = scheduler(database_url, clock).app.test_client().get(f"/api/sessions/{SESSION['id']}", headers=AUTH)

    body = shown.get_json()
    assert NEW_COLUMNS <= columns(engine) and {"session_id", "checkpoint_id", "done_at", "done_by"} <= columns(
        engine, "session_checkpoints"
    )
    assert (body["booked_starts_at"], body["start_override_reason"], body["discharge_override_reason"]) == (
        None,
        None,
        None,
    )
    assert [(c["id"], c["status"]) for c in body["checkpoints"]] == [
        ("vitals_before_infusion", "pending"),
        ("vitals_end_of_infusion", "pending"),
        ("vitals_before_discharge", "pending"),
    ]
    assert body["earliest_discharge_at"] == "2027-01-05T10:30:00-05:00"
    assert double_booking_refused(engine)


def test_migration_0006_can_be_undone_and_applied_again_keeping_the_double_booking_guard(engine):
    migrate(engine, "0006")

    migrate(engine, "0005", down=True)
    undone_columns, undone_tables = columns(engine), columns(engine, "session_checkpoints")
    migrate(engine, "0006")

    assert not NEW_COLUMNS & undone_columns and not undone_tables
    assert NEW_COLUMNS <= columns(engine)
    with engine.begin() as connection:
        connection.execute(text(INSERT_PATIENT))
        connection.execute(text(INSERT_SESSION), SESSION)
    assert double_booking_refused(engine)


# --- the gates through the API ------------------------------------------------------------------------------------


def test_checkpoints_marked_through_the_api_are_kept_with_who_and_when_and_audited(runtime, client, clock, engine):
    session_id = infusion(runtime, client, "2026-12-02T09:00:00-05:00")
    clock.set_local("2026-12-02 08:45")
    assert post(client, session_id, "check-in").status_code == 200
    clock.set_local("2026-12-02 08:50")

    marked = post(client, session_id, "checkpoints/vitals_before_infusion")
    again = post(client, session_id, "checkpoints/vitals_before_infusion")

    assert marked.status_code == 200, marked.get_json()
    assert (again.status_code, again.get_json()["reason"]) == (409, "checkpoint_already_done")
    assert rows(
        engine, "SELECT checkpoint_id, done_by FROM session_checkpoints WHERE session_id = :id", id=session_id
    ) == [("vitals_before_infusion", "service")]
    assert rows(
        engine, "SELECT actor_name, action, detail FROM audit_entries WHERE subject_id = :id ORDER BY id", id=session_id
    )[-1] == ("service", "checkpoint_done", "vitals_before_infusion")


def test_an_early_start_stores_the_moved_times_and_the_booked_start(runtime, client, clock, engine):
    session_id = infusion(runtime, client, "2026-12-02T09:00:00-05:00")
    clock.set_local("2026-12-02 08:35")
    post(client, session_id, "check-in")
    post(client, session_id, "checkpoints/vitals_before_infusion")
    clock.set_local("2026-12-02 08:40")

    started = post(client, session_id, "start-treatment")

    assert started.status_code == 200, started.get_json()
    [(starts_at, booked_starts_at, recovery_ends_at, chair_free_at)] = rows(
        engine,
        "SELECT starts_at, booked_starts_at, recovery_ends_at, chair_free_at FROM sessions WHERE id = :id",
        id=session_id,
    )
    assert [utc(t) for t in (starts_at, booked_starts_at, recovery_ends_at, chair_free_at)] == [
        local("2026-12-02 08:40"),
        local("2026-12-02 09:00"),
        local("2026-12-02 10:10"),
        local("2026-12-02 10:25"),
    ]


def test_a_start_that_would_take_the_chair_from_the_session_before_is_refused_and_changes_nothing(
    runtime, client, clock, engine
):
    infusion(runtime, client, "2026-12-02T08:00:00-05:00", name="Cy Park")  # chair-1 until 09:45 with its cleaning
    session_id = infusion(runtime, client, "2026-12-02T10:00:00-05:00")
    clock.set_local("2026-12-02 09:30")
    post(client, session_id, "check-in")
    post(client, session_id, "checkpoints/vitals_before_infusion")
    before = rows(engine, "SELECT status, starts_at FROM sessions WHERE id = :id", id=session_id)

    refused = post(client, session_id, "start-treatment")

    assert refused.status_code == 409 and refused.get_json()["reason"] == "chair_busy_if_started_now"
    assert "09:45" in refused.get_json()["message"]
    assert rows(engine, "SELECT status, starts_at FROM sessions WHERE id = :id", id=session_id) == before
    clock.set_local("2026-12-02 09:45")
    assert post(client, session_id, "start-treatment").status_code == 200


def test_the_discharge_gate_refuses_until_monitoring_is_over_and_every_checkpoint_done(runtime, client, clock, engine):
    session_id = infusion(runtime, client, "2026-12-02T09:00:00-05:00")
    clock.set_local("2026-12-02 08:50")
    post(client, session_id, "check-in")
    post(client, session_id, "checkpoints/vitals_before_infusion")
    clock.set_local("2026-12-02 09:00")
    post(client, session_id, "start-treatment")
    clock.set_local("2026-12-02 10:00")

    early = post(client, session_id, "discharge")
    clock.set_local("2026-12-02 10:31")
    still_open = post(client, session_id, "discharge")
    post(client, session_id, "checkpoints/vitals_end_of_infusion")
    post(client, session_id, "checkpoints/vitals_before_discharge")
    done = post(client, session_id, "discharge")

    assert (early.status_code, early.get_json()["reason"]) == (409, "monitoring_not_complete")
    assert (still_open.status_code, still_open.get_json()["reason"]) == (409, "checkpoint_open")
    assert "Vital signs at the end of the infusion" in still_open.get_json()["message"]
    assert done.status_code == 200, done.get_json()
    assert rows(engine, "SELECT status, discharge_override_reason FROM sessions WHERE id = :id", id=session_id) == [
        ("discharged", None)
    ]
    assert rows(engine, "SELECT count(*) FROM session_checkpoints WHERE session_id = :id", id=session_id) == [(3,)]


def test_a_clinicians_override_discharges_early_kept_with_the_session_and_nowhere_else(runtime, client, clock, engine):
    session_id = infusion(runtime, client, "2026-12-02T09:00:00-05:00")
    clock.set_local("2026-12-02 08:50")
    post(client, session_id, "check-in")
    clock.set_local("2026-12-02 09:00")
    started = post(client, session_id, "start-treatment", {"override_reason": "Vitals charted on paper"})
    clock.set_local("2026-12-02 09:50")

    discharged = post(client, session_id, "discharge", {"override_reason": "Patient fit, family waiting"})

    assert started.status_code == 200 and discharged.status_code == 200, discharged.get_json()
    assert rows(
        engine, "SELECT start_override_reason, discharge_override_reason FROM sessions WHERE id = :id", id=session_id
    ) == [("Vitals charted on paper", "Patient fit, family waiting")]
    actions = rows(engine, "SELECT action, detail FROM audit_entries WHERE subject_id = :id ORDER BY id", id=session_id)
    assert ("start_gate_overridden", None) in actions and ("discharge_gate_overridden", None) in actions
    elsewhere = rows(engine, "SELECT body FROM outbox") + rows(engine, "SELECT detail FROM audit_entries")
    assert "paper" not in str(elsewhere) and "family" not in str(elsewhere)


def test_a_listing_shows_each_sessions_checkpoints_as_one_read(runtime, client, clock):
    first = infusion(runtime, client, "2026-12-02T09:00:00-05:00")
    second = infusion(runtime, client, "2026-12-02T11:00:00-05:00", name="Cy Park")
    clock.set_local("2026-12-02 08:50")
    post(client, first, "check-in")
    post(client, first, "checkpoints/vitals_before_infusion")

    listed = client.get(
        "/api/sessions",
        query_string={"from": "2026-12-02T00:00:00-05:00", "to": "2026-12-03T00:00:00-05:00"},
        headers=AUTH,
    ).get_json()["sessions"]

    statuses = {s["id"]: [c["status"] for c in s["checkpoints"]] for s in listed}
    assert statuses == {first: ["done", "pending", "pending"], second: ["pending", "pending", "pending"]}
