"""Fifty patients ask for the last place at the same moment: exactly one gets it, on SQLite and on PostgreSQL.

The clinic has one chair and one clinician, so one session at 09:00 leaves no room for a second. Each thread has
its own Flask test client against one app, and a barrier releases all fifty requests together. The guarantee
is the database's own: on PostgreSQL an exclusion constraint, on SQLite a trigger, refuses an overlapping row even
when it is written with plain SQL, past every check in Python.
"""

import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from integration.helpers import register_with_intake
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from services.scheduler.adapters import tables
from services.scheduler.bootstrap import bootstrap
from services.scheduler.domain.clinic import Clinic, Clinician, TreatmentType, WeeklyHours
from shared.persistence.engine import create_database_engine
from shared.settings import Settings

pytestmark = pytest.mark.integration

TOKEN = "concurrency-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ZONE = ZoneInfo("America/New_York")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
STARTS_AT = "2027-01-05T09:00:00-05:00"  # a Tuesday
ESCORT = {"mode": "escort", "escort_name": "Bo Lee", "escort_phone": "+14155550124"}
PATIENTS = 50

WEEKDAYS_8_TO_18 = WeeklyHours(days=tuple(((time(8), time(18)),) if day < 5 else () for day in range(7)))
ONE_CHAIR_CLINIC = Clinic(
    name="Corner Clinic",
    time_zone=ZONE,
    chairs=("chair-1",),
    treatment_types={
        "iv_infusion": TreatmentType(
            id="iv_infusion",
            label="IV ketamine infusion",
            treatment_minutes=45,
            recovery_minutes=45,
            turnover_minutes=15,
            ride_home_required=True,
            intake_required=True,
            minimum_notice_minutes=720,
            booking_horizon_days=120,
            minimum_spacing_hours=20,
        )
    },
    opening_hours=WEEKDAYS_8_TO_18,
    clinicians=(Clinician(id="dr-solo", name="Dr. Sam Solo", working_hours=WEEKDAYS_8_TO_18),),
)


TWELVE_CHAIR_CLINIC = replace(
    ONE_CHAIR_CLINIC,
    chairs=tuple(f"chair-{n}" for n in range(1, 13)),
    clinicians=tuple(Clinician(id=f"dr-{n}", name=f"Dr. {n}", working_hours=WEEKDAYS_8_TO_18) for n in range(1, 13)),
)


def scheduler(database_url: str, clinic: Clinic = ONE_CHAIR_CLINIC):
    settings = Settings(
        service="scheduler",
        broker_url="memory://",
        database_url=database_url,
        port=0,
        service_token=TOKEN,
        scheduler_url="http://127.0.0.1:0",
    )
    return bootstrap(settings, clinic=clinic, clock=lambda: NOW)


def book_all_at_once(runtime, patients: list[str]) -> dict[str, tuple[int, dict]]:
    """Every patient asks for STARTS_AT at the same moment, no chair named; each one's status and answer."""
    barrier = threading.Barrier(len(patients))
    answers: dict[str, tuple[int, dict]] = {}
    failures: list[BaseException] = []
    lock = threading.Lock()

    def attempt(patient_id: str) -> None:
        try:
            client = runtime.app.test_client()  # one client per thread, one app
            barrier.wait(timeout=120)
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
                answers[patient_id] = (response.status_code, response.get_json())
        except BaseException as exc:  # reported below rather than lost in the thread
            failures.append(exc)

    threads = [threading.Thread(target=attempt, args=(p,), daemon=True) for p in patients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)

    assert not any(thread.is_alive() for thread in threads), "a booking thread never finished"
    assert not failures, failures
    return answers


def test_fifty_patients_booking_the_only_chair_at_once_give_exactly_one_session(database_url):
    runtime = scheduler(database_url)
    setup = runtime.app.test_client()
    patients = [register_with_intake(setup, AUTH, f"Patient {n}") for n in range(PATIENTS)]

    answers = book_all_at_once(runtime, patients)

    statuses = sorted(status for status, _ in answers.values())
    assert statuses == [201] + [409] * (PATIENTS - 1), answers
    assert {body["reason"] for status, body in answers.values() if status == 409} == {"no_chair_available"}
    [(winner, session)] = [(p, body) for p, (status, body) in answers.items() if status == 201]
    assert (session["patient_id"], session["chair_id"], session["clinician_id"]) == (winner, "chair-1", "dr-solo")
    engine = create_database_engine(database_url, schema="scheduler")
    try:
        with engine.connect() as connection:
            sessions = connection.execute(text("SELECT id, patient_id FROM sessions")).all()
            booked_events = (
                connection.execute(text("SELECT correlation_id FROM outbox WHERE routing_key = 'session.booked'"))
                .scalars()
                .all()
            )
    finally:
        engine.dispose()
    assert [tuple(row) for row in sessions] == [(session["id"], winner)]
    assert booked_events == [session["id"]]


# --- PostgreSQL: the constraint itself ---------------------------------------------------------------------------


def psql(postgres_url: str):
    url = make_url(postgres_url)
    return psycopg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        dbname=url.database,
        autocommit=True,
        options="-csearch_path=scheduler",
    )


def insert_session(
    connection, *, patient_id: str, chair_id: str, clinician_id: str, starts_at: datetime, status: str = "booked"
) -> None:
    """A session row written with plain SQL, past every check the scheduler makes in Python."""
    connection.execute(
        "INSERT INTO sessions (id, patient_id, treatment_type, chair_id, clinician_id, starts_at, treatment_ends_at,"
        " recovery_ends_at, chair_free_at, status, ride_home_mode, created_at)"
        " VALUES (%s, %s, 'iv_infusion', %s, %s, %s, %s, %s, %s, %s, 'escort', now())",
        (
            str(uuid.uuid4()),
            patient_id,
            chair_id,
            clinician_id,
            starts_at,
            starts_at + timedelta(minutes=45),
            starts_at + timedelta(minutes=90),
            starts_at + timedelta(minutes=105),
            status,
        ),
    )


@pytest.fixture
def booked_at_nine(postgres_url):
    return book_at_nine(postgres_url)


def book_at_nine(database_url: str) -> dict:
    """A session booked through the API at 09:00 (chair-1, dr-solo) and two more patients."""
    client = scheduler(database_url).app.test_client()
    first, second, third = (register_with_intake(client, AUTH, f"Patient {n}") for n in range(3))
    response = client.post(
        "/api/sessions",
        json={"patient_id": first, "treatment_type": "iv_infusion", "starts_at": STARTS_AT, "ride_home": ESCORT},
        headers=AUTH,
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return {"first": first, "second": second, "third": third, "nine": datetime.fromisoformat(STARTS_AT)}


def test_twenty_four_patients_racing_for_twelve_chairs_fill_every_chair_and_only_the_rules_refuse_the_rest(
    database_url,
):
    runtime = scheduler(database_url, TWELVE_CHAIR_CLINIC)
    setup = runtime.app.test_client()
    patients = [register_with_intake(setup, AUTH, f"Patient {n}") for n in range(24)]

    answers = book_all_at_once(runtime, patients)

    booked = [body for status, body in answers.values() if status == 201]
    assert sorted(body["chair_id"] for body in booked) == sorted(TWELVE_CHAIR_CLINIC.chairs), answers
    assert sorted(body["clinician_id"] for body in booked) == sorted(c.id for c in TWELVE_CHAIR_CLINIC.clinicians)
    refused = [body["reason"] for status, body in answers.values() if status != 201]
    assert refused == ["no_chair_available"] * 12, answers  # not one lost race left unanswered


OVERLAPS = pytest.mark.parametrize(
    "who, chair_id, clinician_id, minutes_later, constraint",
    [
        ("second", "chair-1", "dr-other", 100, "sessions_chair_not_double_booked"),  # inside the cleaning turnover
        ("second", "chair-2", "dr-solo", 30, "sessions_clinician_not_double_booked"),
        ("first", "chair-2", "dr-other", 60, "sessions_patient_not_double_booked"),  # inside the patient's recovery
    ],
    ids=["chair", "clinician", "patient"],
)


@OVERLAPS
def test_sqlite_refuses_an_overlapping_session_inserted_with_plain_sql(
    tmp_path, who, chair_id, clinician_id, minutes_later, constraint
):
    database_url = f"sqlite:///{tmp_path / 'scheduler.sqlite3'}"
    booked = book_at_nine(database_url)
    engine = create_database_engine(database_url, schema="scheduler")
    starts_at = booked["nine"] + timedelta(minutes=minutes_later)
    row = {
        "id": str(uuid.uuid4()),
        "patient_id": booked[who],
        "treatment_type": "iv_infusion",
        "chair_id": chair_id,
        "clinician_id": clinician_id,
        "starts_at": starts_at,
        "treatment_ends_at": starts_at + timedelta(minutes=45),
        "recovery_ends_at": starts_at + timedelta(minutes=90),
        "chair_free_at": starts_at + timedelta(minutes=105),
        "status": "booked",
        "ride_home_mode": "escort",
        "created_at": NOW,
    }

    with pytest.raises(IntegrityError, match=constraint):
        with engine.begin() as connection:
            connection.execute(insert(tables.sessions).values(**row))
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM sessions")).scalar_one()
    engine.dispose()

    assert count == 1


@OVERLAPS
def test_postgresql_refuses_an_overlapping_session_inserted_with_plain_sql(
    postgres_url, booked_at_nine, who, chair_id, clinician_id, minutes_later, constraint
):
    with psql(postgres_url) as connection:
        with pytest.raises(psycopg.errors.ExclusionViolation) as refused:
            insert_session(
                connection,
                patient_id=booked_at_nine[who],
                chair_id=chair_id,
                clinician_id=clinician_id,
                starts_at=booked_at_nine["nine"] + timedelta(minutes=minutes_later),
            )
        count = connection.execute("SELECT count(*) FROM sessions").fetchone()[0]

    assert refused.value.diag.constraint_name == constraint
    assert count == 1


def test_postgresql_accepts_back_to_back_and_cancelled_sessions_written_with_plain_sql(postgres_url, booked_at_nine):
    nine = booked_at_nine["nine"]
    with psql(postgres_url) as connection:
        # Starts when the 09:00 session's cleaning ends: the ranges are half-open, so they only touch.
        insert_session(
            connection,
            patient_id=booked_at_nine["second"],
            chair_id="chair-1",
            clinician_id="dr-solo",
            starts_at=nine + timedelta(minutes=105),
        )
        # Overlaps everything, but a cancelled session holds nothing.
        insert_session(
            connection,
            patient_id=booked_at_nine["first"],
            chair_id="chair-1",
            clinician_id="dr-solo",
            starts_at=nine,
            status="cancelled",
        )
        statuses = sorted(row[0] for row in connection.execute("SELECT status FROM sessions").fetchall())

    assert statuses == ["booked", "booked", "cancelled"]


def test_the_exclusion_constraints_are_in_the_schema(postgres_url):
    scheduler(postgres_url)

    with psql(postgres_url) as connection:
        rows = connection.execute(
            "SELECT conname FROM pg_constraint WHERE contype = 'x' AND conrelid = 'scheduler.sessions'::regclass"
        ).fetchall()

    assert {name for (name,) in rows} == {
        "sessions_chair_not_double_booked",
        "sessions_clinician_not_double_booked",
        "sessions_patient_not_double_booked",
    }
