"""The scheduler's API on SQLite and on PostgreSQL: the real app (memory:// broker, a clock the test sets) through
Flask's test client, checked against what lands in the database and its outbox.

The clock starts at NOW, Tuesday 2026-12-01 07:00 in the clinic (America/New_York); the default clinic applies.
"""

import gc
import json
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from fakes import ride_reported
from integration import helpers
from sqlalchemy import text

from services.scheduler.adapters.clinic_config import load_clinic
from services.scheduler.bootstrap import bootstrap
from shared.messaging import EventConsumer
from shared.persistence.engine import create_database_engine
from shared.settings import Settings

pytestmark = pytest.mark.integration

TOKEN = "both-databases-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ZONE = ZoneInfo("America/New_York")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ESCORT = {"mode": "escort", "escort_name": "Bo Lee", "escort_phone": "+14155550124"}
TABLES = ("patients", "sessions", "outbox", "idempotency_keys", "series", "intake_assessments", "processed_events")


class Clock:
    """A fixed clock that the test moves by hand, as the day of a session goes by."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set_local(self, wall: str) -> None:
        self.now = local(wall)


def local(wall: str) -> datetime:
    """'2027-01-05 09:00' in clinic time, as an aware datetime."""
    return datetime.fromisoformat(wall).replace(tzinfo=ZONE)


def iso(wall: str) -> str:
    return local(wall).isoformat()


class Database:
    """Reads the scheduler's tables directly, on either database."""

    def __init__(self, url: str):
        self.engine = create_database_engine(url, schema="scheduler")
        self.dialect = self.engine.dialect.name

    def scalar(self, sql: str, **params):
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def count(self, table: str, where: str = "1 = 1", **params) -> int:
        return self.scalar(f"SELECT count(*) FROM {table} WHERE {where}", **params)

    def counts(self) -> dict[str, int]:
        return {table: self.count(table) for table in TABLES}

    def outbox(self) -> list[tuple[str, str, dict]]:
        """(routing key, correlation id, event data) of every outbox row, in the order they were written."""
        with self.engine.connect() as connection:
            rows = connection.execute(text("SELECT routing_key, correlation_id, body FROM outbox ORDER BY position"))
            return [(key, correlation, json.loads(body)["data"]) for key, correlation, body in rows]

    def stored_utc(self, column: str, row_id: str, table: str = "sessions") -> str:
        """An instant exactly as the database keeps it, as 'YYYY-MM-DD HH:MM:SS' in UTC."""
        if self.dialect == "sqlite":  # SQLite keeps text: it must already be the UTC wall time
            sql = f"SELECT substr({column}, 1, 19) FROM {table} WHERE id = :id"
        else:  # timestamptz; read back in UTC whatever the session's TimeZone
            sql = f"SELECT to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM {table} WHERE id = :id"
        return self.scalar(sql, id=row_id)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def runtime(database_url, clock, monkeypatch):
    monkeypatch.delenv("CLINIC_CONFIG", raising=False)
    settings = Settings(
        service="scheduler",
        broker_url="memory://",
        database_url=database_url,
        port=0,
        service_token=TOKEN,
        scheduler_url="http://127.0.0.1:0",
    )
    return bootstrap(settings, clinic=load_clinic(), clock=clock)


@pytest.fixture
def client(runtime):
    return runtime.app.test_client()


@pytest.fixture
def db(runtime, database_url):
    database = Database(database_url)
    yield database
    database.engine.dispose()


def register(client, name: str = "Ann Lee", phone: str = "+14155550123") -> str:
    response = client.post("/api/patients", json={"name": name, "phone": phone}, headers=AUTH)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["id"]


def register_with_intake(client, name: str = "Ann Lee", phone: str = "+14155550123") -> str:
    return helpers.register_with_intake(client, AUTH, name, phone)


def book(client, patient_id: str, starts_at: str, /, headers=None, **fields):
    body = {
        "patient_id": patient_id,
        "treatment_type": "iv_infusion",
        "starts_at": starts_at,
        "ride_home": ESCORT,
        **fields,
    }
    return client.post("/api/sessions", json=body, headers={**AUTH, **(headers or {})})


def booked(client, patient_id: str, starts_at: str, /, **fields) -> dict:
    response = book(client, patient_id, starts_at, **fields)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def report_ride(runtime, session_id: str, event_type: str, **fields) -> None:
    """Transport reports a change of the session's ride: handed to the scheduler's consumer as the broker would."""
    [consumer] = [worker for worker in runtime.workers if isinstance(worker, EventConsumer)]
    consumer.handlers[event_type](ride_reported(session_id, event_type, **fields))


def step(client, session_id: str, route: str, body: dict | None = None) -> dict:
    response = client.post(f"/api/sessions/{session_id}/{route}", json=body, headers=AUTH)
    assert response.status_code == 200, f"{route}: {response.get_data(as_text=True)}"
    return response.get_json()


def slots(client, day: str, **query) -> list[str]:
    start = local(f"{day} 00:00")
    params = {
        "treatment_type": "iv_infusion",
        "from": start.isoformat(),
        "to": (start + timedelta(days=1)).isoformat(),
        **query,
    }
    response = client.get("/api/availability", query_string=params, headers=AUTH)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [slot["starts_at"] for slot in response.get_json()["slots"]]


def grid_of(day: str) -> list[str]:
    """Every quarter hour of the clinic's local day."""
    start = local(f"{day} 00:00")
    return [(start + timedelta(minutes=15 * n)).isoformat() for n in range(96)]


def at(instant: str) -> datetime:
    return datetime.fromisoformat(instant)


# --- availability and booking agree ------------------------------------------------------------------------------


@pytest.mark.parametrize("day", ["2027-01-05", "2027-01-07", "2027-01-09"], ids=["tuesday", "thursday", "saturday"])
def test_every_listed_start_books_and_every_other_grid_start_of_the_day_is_refused(client, db, day):
    patient = register_with_intake(client)
    # The patient's infusion the afternoon before keeps the morning free (20 hours' spacing); two other patients
    # keep the clinicians busy at 10:00 and 11:00.
    day_before = (local(f"{day} 00:00") - timedelta(days=1)).date().isoformat()
    booked(client, patient, iso(f"{day_before} 14:00"))
    booked(client, register_with_intake(client, "Cy Park", "+14155550125"), iso(f"{day} 10:00"))
    booked(client, register_with_intake(client, "Di Ros", "+14155550126"), iso(f"{day} 11:00"))

    listed = slots(client, day, patient_id=patient)

    assert listed, "the day has room"
    assert min(at(start) for start in listed) >= local(f"{day} 10:00"), "spacing after yesterday's infusion"
    for start in listed:
        session = booked(client, patient, start)
        assert session["starts_at"] == start
        step(client, session["id"], "cancel", {"reason": "clinic_request"})
    refused = {}
    for start in set(grid_of(day)) - set(listed):
        response = book(client, patient, start)
        assert response.status_code == 409, (start, response.get_data(as_text=True))
        refused[start] = response.get_json()["reason"]
    assert set(refused.values()) <= {
        "clinic_closed",
        "patient_spacing",
        "patient_overlap",
        "no_clinician_available",
        "no_chair_available",
    }
    assert db.count("sessions", "status = 'booked'") == 3
    assert slots(client, day, patient_id=patient) == listed


def test_a_booked_block_with_its_cleaning_turnover_disappears_from_the_chairs_list_on_both_sides(client):
    before = slots(client, "2027-01-05", chair_id="chair-2")

    booked(client, register_with_intake(client), iso("2027-01-05 12:00"), chair_id="chair-2")
    after = slots(client, "2027-01-05", chair_id="chair-2")

    # Held 12:00-13:45 (45 treatment + 45 recovery + 15 cleaning); a start s needs [s, s + 1:45) free.
    gone = sorted(set(before) - set(after))
    assert gone == [
        iso(f"2027-01-05 {h:02d}:{m:02d}")
        for h, m in [(10, 30), (10, 45)]
        + [(hour, minute) for hour in (11, 12) for minute in (0, 15, 30, 45)]
        + [(13, 0), (13, 15), (13, 30)]
    ]
    assert set(after) <= set(before)
    assert iso("2027-01-05 10:15") in after, "ends with recovery and cleaning exactly when the booked block starts"
    assert iso("2027-01-05 13:45") in after, "starts when the cleaning ends"


def test_a_start_that_the_list_leaves_out_because_of_turnover_is_refused_on_that_chair(client):
    booked(client, register_with_intake(client), iso("2027-01-05 12:00"), chair_id="chair-2")
    other = register_with_intake(client, "Cy Park", "+14155550125")

    response = book(client, other, iso("2027-01-05 13:30"), chair_id="chair-2")

    assert response.status_code == 409
    assert response.get_json()["reason"] == "chair_unavailable"
    assert iso("2027-01-05 13:30") not in slots(client, "2027-01-05", chair_id="chair-2")


# --- the lifecycle and its events --------------------------------------------------------------------------------


def test_every_lifecycle_step_writes_its_event_to_the_outbox_in_order(runtime, client, db, clock):
    patient = register(client)
    intake = booked(client, patient, iso("2026-12-01 09:00"), treatment_type="intake_assessment", ride_home=None)
    clock.set_local("2026-12-01 08:50")
    step(client, intake["id"], "check-in")
    clock.set_local("2026-12-01 09:00")
    step(client, intake["id"], "start-treatment")
    clock.set_local("2026-12-01 10:05")
    step(client, intake["id"], "discharge")

    first = booked(client, patient, iso("2027-01-05 09:00"))
    moved = step(client, first["id"], "reschedule", {"starts_at": iso("2027-01-06 10:00")})
    report_ride(runtime, first["id"], "ride.confirmed")
    # The infusion's day as the floor lives it: vitals while checked in, treatment five minutes late (so every later
    # time moves with it: the infusion ends 10:50, monitoring 11:35), vitals at the end of the infusion and before
    # discharge when each is due, and the discharge after the earliest one, recorded a little after it happened.
    clock.set_local("2027-01-06 09:50")
    checked_in = step(client, first["id"], "check-in")
    clock.set_local("2027-01-06 09:55")
    step(client, first["id"], "checkpoints/vitals_before_infusion")
    clock.set_local("2027-01-06 10:05")
    started = step(client, first["id"], "start-treatment")
    clock.set_local("2027-01-06 10:50")
    step(client, first["id"], "checkpoints/vitals_end_of_infusion")
    clock.set_local("2027-01-06 11:35")
    step(client, first["id"], "checkpoints/vitals_before_discharge")
    clock.set_local("2027-01-06 11:45")
    discharged = step(client, first["id"], "discharge", {"discharged_at": iso("2027-01-06 11:38")})

    missed = booked(client, patient, iso("2027-01-08 09:00"))
    clock.set_local("2027-01-08 09:20")
    no_show = step(client, missed["id"], "no-show")

    early = booked(client, patient, iso("2027-01-12 09:00"))
    late = booked(client, patient, iso("2027-01-14 09:00"))
    step(client, early["id"], "cancel", {"reason": "patient_request", "note": "Travelling"})
    clock.set_local("2027-01-13 12:00")
    step(client, late["id"], "cancel", {"reason": "no_ride_home"})

    assert moved["starts_at"] == iso("2027-01-06 10:00")
    assert checked_in["status"] == "checked_in"
    assert (started["booked_starts_at"], started["starts_at"]) == (iso("2027-01-06 10:00"), iso("2027-01-06 10:05"))
    assert started["earliest_discharge_at"] == iso("2027-01-06 11:35")
    assert discharged["status"] == "discharged" and discharged["discharged_at"] == iso("2027-01-06 11:38")
    assert (discharged["start_override_reason"], discharged["discharge_override_reason"]) == (None, None), (
        "every gate was met: nothing was overridden"
    )
    assert [(c["id"], c["status"]) for c in discharged["checkpoints"]] == [
        ("vitals_before_infusion", "done"),
        ("vitals_end_of_infusion", "done"),
        ("vitals_before_discharge", "done"),
    ]
    assert no_show["status"] == "no_show"
    outbox = db.outbox()
    assert [(key, correlation) for key, correlation, _ in outbox] == [
        ("session.booked", intake["id"]),
        ("session.checked_in", intake["id"]),
        ("session.treatment_started", intake["id"]),
        ("session.discharged", intake["id"]),
        ("session.booked", first["id"]),
        ("session.rescheduled", first["id"]),
        ("session.checked_in", first["id"]),
        ("session.treatment_started", first["id"]),
        ("session.discharged", first["id"]),
        ("session.booked", missed["id"]),
        ("session.no_show", missed["id"]),
        ("session.booked", early["id"]),
        ("session.booked", late["id"]),
        ("session.cancelled", early["id"]),
        ("session.cancelled", late["id"]),
    ]
    data = [d for _, _, d in outbox]
    rescheduled = data[5]
    assert at(rescheduled["previous_starts_at"]) == local("2027-01-05 09:00")
    assert at(rescheduled["previous_recovery_ends_at"]) == local("2027-01-05 10:30")
    assert at(rescheduled["starts_at"]) == local("2027-01-06 10:00")
    assert at(rescheduled["recovery_ends_at"]) == local("2027-01-06 11:30")
    assert at(data[6]["checked_in_at"]) == local("2027-01-06 09:50")
    assert at(data[7]["treatment_started_at"]) == local("2027-01-06 10:05")
    assert at(data[7]["treatment_ends_at"]) == local("2027-01-06 10:50"), "moved with the actual start"
    assert at(data[7]["recovery_ends_at"]) == local("2027-01-06 11:35")
    assert at(data[7]["chair_free_at"]) == local("2027-01-06 11:50")
    assert at(data[8]["discharged_at"]) == local("2027-01-06 11:38"), "the actual discharge, not the clock"
    assert at(data[8]["planned_recovery_ends_at"]) == local("2027-01-06 11:35"), "the recovery the start moved"
    assert data[8]["ride_home_mode"] == "escort"
    assert at(data[10]["starts_at"]) == local("2027-01-08 09:00")
    assert at(data[10]["recorded_at"]) == local("2027-01-08 09:20")
    assert (data[13]["reason"], data[13]["late_cancellation"]) == ("patient_request", False)
    assert (data[14]["reason"], data[14]["late_cancellation"]) == ("no_ride_home", True)
    assert "Travelling" not in json.dumps(data), "the front desk's note stays in the scheduler"
    for document in data:
        assert document["patient_id"] == patient


def test_a_step_the_status_does_not_allow_is_refused_and_writes_no_event(client, db, clock):
    patient = register_with_intake(client)
    session = booked(client, patient, iso("2027-01-05 09:00"))
    step(client, session["id"], "cancel", {"reason": "patient_unwell"})
    before = db.counts()

    refusals = [
        client.post(f"/api/sessions/{session['id']}/{route}", json=body, headers=AUTH)
        for route, body in [
            ("cancel", {"reason": "other"}),
            ("reschedule", {"starts_at": iso("2027-01-06 09:00")}),
            ("start-treatment", None),
            ("discharge", None),
            ("no-show", None),
        ]
    ]

    assert [(r.status_code, r.get_json()["reason"]) for r in refusals] == [(409, "transition_not_allowed")] * 5
    assert db.counts() == before


# --- the ride home ------------------------------------------------------------------------------------------------


def test_a_provider_ride_home_keeps_its_address_in_the_scheduler_and_out_of_the_outbox(client, db):
    patient = register_with_intake(client)
    address = "12 Elm Street, Apt 4, Jacksonville, FL 32204"

    session = booked(
        client, patient, iso("2027-01-05 09:00"), ride_home={"mode": "provider", "dropoff_address": address}
    )

    assert (
        client.get(f"/api/sessions/{session['id']}", headers=AUTH).get_json()["ride_home"]["dropoff_address"] == address
    )
    assert db.scalar("SELECT dropoff_address FROM sessions WHERE id = :id", id=session["id"]) == address
    [(key, _, data)] = db.outbox()
    assert (key, data["ride_home_mode"]) == ("session.booked", "provider")
    assert "Elm" not in json.dumps(data)


def test_check_in_waits_for_a_confirmed_ride_whose_status_and_time_are_stored_in_utc(runtime, client, db, clock):
    patient = register_with_intake(client)
    session = booked(client, patient, iso("2027-01-05 09:00"))
    clock.set_local("2027-01-05 08:45")
    refused = client.post(f"/api/sessions/{session['id']}/check-in", headers=AUTH)
    before = db.counts()

    report_ride(runtime, session["id"], "ride.confirmed", occurred_at=local("2027-01-04 18:30"))
    report_ride(runtime, session["id"], "ride.requested", occurred_at=local("2027-01-04 10:00"))  # late, and older
    checked_in = step(client, session["id"], "check-in")

    assert (refused.status_code, refused.get_json()["reason"]) == (409, "ride_not_confirmed")
    assert (checked_in["ride_status"], checked_in["ride_status_at"]) == ("confirmed", iso("2027-01-04 18:30"))
    assert db.scalar("SELECT ride_status FROM sessions WHERE id = :id", id=session["id"]) == "confirmed"
    assert db.stored_utc("ride_status_at", session["id"]) == "2027-01-04 23:30:00"
    assert db.count("processed_events") == before["processed_events"] + 2


def test_an_override_reason_is_stored_with_the_session(client, db, clock):
    patient = register_with_intake(client)
    session = booked(client, patient, iso("2027-01-05 09:00"))
    clock.set_local("2027-01-05 08:45")

    checked_in = step(client, session["id"], "check-in", {"override_reason": "Escort confirmed at the desk"})

    assert (checked_in["status"], checked_in["ride_status"]) == ("checked_in", None)
    stored = db.scalar("SELECT check_in_override_reason FROM sessions WHERE id = :id", id=session["id"])
    assert stored == checked_in["check_in_override_reason"] == "Escort confirmed at the desk"


# --- intake ------------------------------------------------------------------------------------------------------


def test_discharging_an_intake_session_unlocks_iv_booking(client, db, clock):
    patient = register(client)
    refused = book(client, patient, iso("2027-01-05 09:00"))
    assert (refused.status_code, refused.get_json()["reason"]) == (409, "intake_required")
    intake = booked(client, patient, iso("2026-12-01 09:00"), treatment_type="intake_assessment", ride_home=None)
    clock.set_local("2026-12-01 08:55")
    step(client, intake["id"], "check-in")
    clock.set_local("2026-12-01 09:00")
    step(client, intake["id"], "start-treatment")
    clock.set_local("2026-12-01 10:00")
    step(client, intake["id"], "discharge")

    response = book(client, patient, iso("2027-01-05 09:00"))

    assert response.status_code == 201, response.get_data(as_text=True)
    recorded = client.get(f"/api/patients/{patient}", headers=AUTH).get_json()["intake"]
    assert recorded["session_id"] == intake["id"]
    assert recorded["completed_at"] == iso("2026-12-01 10:00")
    assert db.count("intake_assessments", "patient_id = :p AND session_id = :s", p=patient, s=intake["id"]) == 1


def test_an_intake_recorded_by_staff_unlocks_iv_booking(client, db):
    patient = register(client)
    assert book(client, patient, iso("2027-01-05 09:00")).status_code == 409

    recorded = client.post(
        f"/api/patients/{patient}/intake",
        json={"completed_at": "2026-11-28T15:30:00Z", "recorded_by": "Dr. Xu, Lakeside Psychiatry"},
        headers=AUTH,
    )

    assert recorded.status_code == 201, recorded.get_data(as_text=True)
    assert recorded.get_json()["completed_at"] == iso("2026-11-28 10:30")
    assert db.count("intake_assessments", "patient_id = :p AND session_id IS NULL", p=patient) == 1
    intake_id = db.scalar("SELECT id FROM intake_assessments WHERE patient_id = :p", p=patient)
    assert db.stored_utc("completed_at", intake_id, table="intake_assessments") == "2026-11-28 15:30:00"
    assert book(client, patient, iso("2027-01-05 09:00")).status_code == 201


def test_an_intake_dated_in_the_future_is_refused_and_unlocks_nothing(client, db):
    patient = register(client)
    before = db.counts()

    response = client.post(
        f"/api/patients/{patient}/intake",
        json={"completed_at": iso("2026-12-02 09:00"), "recorded_by": "Dr. Xu"},
        headers=AUTH,
    )

    assert response.status_code == 422
    assert "completed_at" in response.get_json()["errors"]
    assert db.counts() == before
    assert book(client, patient, iso("2027-01-05 09:00")).get_json()["reason"] == "intake_required"


# --- idempotency -------------------------------------------------------------------------------------------------


def test_the_same_request_with_the_same_idempotency_key_twice_books_once(client, db):
    patient = register_with_intake(client)

    first = book(client, patient, iso("2027-01-05 09:00"), headers={"Idempotency-Key": "front-desk-42"})
    again = book(client, patient, iso("2027-01-05 09:00"), headers={"Idempotency-Key": "front-desk-42"})

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json() == first.get_json()
    assert db.count("sessions") == 1
    assert db.count("outbox", "routing_key = 'session.booked'") == 1
    assert db.count("idempotency_keys") == 1


def test_ten_concurrent_requests_with_the_same_idempotency_key_book_once(runtime, client, db):
    patient = register_with_intake(client)
    barrier = threading.Barrier(10)
    answers: list[tuple[int, str | None, str | None]] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def attempt():
        try:
            own = runtime.app.test_client()
            barrier.wait(timeout=60)
            response = book(own, patient, iso("2027-01-05 09:00"), headers={"Idempotency-Key": "same-key"})
            body = response.get_json()
            with lock:
                answers.append((response.status_code, body.get("id"), response.headers.get("Idempotent-Replayed")))
        except BaseException as exc:  # reported below rather than lost in the thread
            failures.append(exc)

    threads = [threading.Thread(target=attempt, daemon=True) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert not failures, failures
    assert len(answers) == 10
    assert {status for status, _, _ in answers} == {201}, answers
    assert len({session_id for _, session_id, _ in answers}) == 1, answers
    assert sum(replayed != "true" for _, _, replayed in answers) == 1, "exactly one request really booked"
    assert db.count("sessions") == 1
    assert db.count("outbox", "routing_key = 'session.booked'") == 1
    assert db.count("idempotency_keys") == 1


def test_the_same_idempotency_key_with_another_body_is_409_and_changes_nothing(client, db):
    patient = register_with_intake(client)
    assert book(client, patient, iso("2027-01-05 09:00"), headers={"Idempotency-Key": "k-7"}).status_code == 201
    before = db.counts()

    response = book(client, patient, iso("2027-01-07 09:00"), headers={"Idempotency-Key": "k-7"})

    assert response.status_code == 409
    assert response.get_json()["reason"] == "idempotency_key_reused"
    assert db.counts() == before


# --- series ------------------------------------------------------------------------------------------------------


def test_a_series_books_all_six_sessions_with_their_series_id_and_six_events(client, db):
    patient = register_with_intake(client)

    response = client.post(
        "/api/series",
        json={
            "patient_id": patient,
            "treatment_type": "iv_infusion",
            "first_starts_at": iso("2027-01-04 10:00"),
            "count": 6,
            "within_days": 21,
            "ride_home": ESCORT,
        },
        headers=AUTH,
    )

    assert response.status_code == 201, response.get_data(as_text=True)
    series = response.get_json()
    assert [s["starts_at"] for s in series["sessions"]] == [
        iso(f"2027-01-{day:02d} 10:00") for day in (4, 8, 11, 15, 18, 22)
    ]
    assert db.count("series") == 1
    assert db.count("sessions", "series_id = :s", s=series["id"]) == 6
    events = [data for key, _, data in db.outbox() if key == "session.booked"]
    assert len(events) == 6
    assert {event["series_id"] for event in events} == {series["id"]}
    assert client.get(f"/api/series/{series['id']}", headers=AUTH).get_json() == series


def test_a_series_that_cannot_be_placed_whole_books_nothing_and_says_what_fits(client, db):
    patient = register_with_intake(client)
    before = db.counts()

    # Twelve sessions within the two weeks from Monday 14 December: two Sundays and Christmas leave eleven days.
    response = client.post(
        "/api/series",
        json={
            "patient_id": patient,
            "treatment_type": "iv_infusion",
            "first_starts_at": iso("2026-12-14 10:00"),
            "count": 12,
            "within_days": 14,
            "ride_home": ESCORT,
        },
        headers=AUTH,
    )

    assert response.status_code == 409, response.get_data(as_text=True)
    body = response.get_json()
    assert body["reason"] == "series_not_placeable"
    assert len(body["placed"]) == 11
    placed_days = {at(slot["starts_at"]).astimezone(ZONE).date().isoformat() for slot in body["placed"]}
    assert not placed_days & {"2026-12-20", "2026-12-25", "2026-12-27"}
    [unplaced] = body["unplaced"]
    assert len(unplaced["alternatives"]) == 3
    assert all(at(alt) >= local("2026-12-28 00:00") for alt in unplaced["alternatives"])
    assert db.counts() == before


# --- the calendar entry, and time zones --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "starts_at, offset", [("2027-01-05 09:00", "-05:00"), ("2027-03-16 09:00", "-04:00")], ids=["winter", "summer"]
)
def test_the_calendar_entry_runs_from_arrival_to_pickup_and_names_the_pickup_time(client, starts_at, offset):
    session = booked(client, register_with_intake(client), iso(starts_at))

    response = client.get(f"/api/sessions/{session['id']}.ics", headers=AUTH)

    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    calendar = icalendar.Calendar.from_ical(response.data)
    [event] = calendar.walk("VEVENT")
    start = local(starts_at)
    assert event.decoded("dtstart") == start - timedelta(minutes=15)
    assert event.decoded("dtend") == start + timedelta(minutes=90)
    assert event.decoded("dtstart").utcoffset() == datetime.fromisoformat(f"2027-01-01T00:00{offset}").utcoffset()
    assert "Pickup: " + (start + timedelta(minutes=90)).strftime("%H:%M") in str(event.get("description"))
    assert str(event.get("uid")).startswith(f"session-{session['id']}@")
    assert calendar.walk("VTIMEZONE"), "the entry carries its time zone"


def test_instants_are_stored_in_utc_and_answered_in_the_clinics_offset(client, db):
    patient = register_with_intake(client)
    winter = booked(client, patient, "2027-01-05T14:00:00Z")
    summer = booked(client, patient, "2027-03-16T19:30:00+05:30")  # 14:00 UTC = 10:00 summer time

    assert db.stored_utc("starts_at", winter["id"]) == "2027-01-05 14:00:00"
    assert db.stored_utc("chair_free_at", winter["id"]) == "2027-01-05 15:45:00"
    assert db.stored_utc("starts_at", summer["id"]) == "2027-03-16 14:00:00"
    assert db.stored_utc("created_at", summer["id"]) == "2026-12-01 12:00:00"
    shown = {
        s["id"]: s for s in [client.get(f"/api/sessions/{x['id']}", headers=AUTH).get_json() for x in (winter, summer)]
    }
    assert shown[winter["id"]]["starts_at"] == "2027-01-05T09:00:00-05:00"
    assert shown[winter["id"]]["chair_free_at"] == "2027-01-05T10:45:00-05:00"
    assert shown[summer["id"]]["starts_at"] == "2027-03-16T10:00:00-04:00"
    assert shown[summer["id"]]["recovery_ends_at"] == "2027-03-16T11:30:00-04:00"
    events = {correlation: data for key, correlation, data in db.outbox() if key == "session.booked"}
    assert events[winter["id"]]["starts_at"] == "2027-01-05T14:00:00+00:00", "events carry UTC"


# --- reads -------------------------------------------------------------------------------------------------------


def test_reads_neither_wait_for_a_write_in_progress_nor_see_it_before_it_commits(client, db):
    patient_id = register_with_intake(client)
    session = booked(client, patient_id, iso("2026-12-08 09:00"), chair_id="chair-1")
    assert iso("2026-12-08 09:00") not in slots(client, "2026-12-08", chair_id="chair-1")

    with db.engine.begin() as writer:  # on SQLite this holds the database's write lock until the block ends
        writer.execute(text("UPDATE sessions SET status = 'cancelled' WHERE id = :id"), {"id": session["id"]})

        assert iso("2026-12-08 09:00") not in slots(client, "2026-12-08", chair_id="chair-1")
        shown = client.get(f"/api/sessions/{session['id']}", headers=AUTH)
        assert shown.status_code == 200 and shown.get_json()["status"] == "booked"

    assert iso("2026-12-08 09:00") in slots(client, "2026-12-08", chair_id="chair-1")
    assert client.get(f"/api/sessions/{session['id']}", headers=AUTH).get_json()["status"] == "cancelled"


def test_a_unit_of_work_opened_to_read_only_may_not_write_and_the_next_one_may(db):
    from sqlalchemy.exc import DBAPIError

    from services.scheduler.adapters.tables import messaging
    from services.scheduler.adapters.unit_of_work import SchedulerUnitOfWork
    from services.scheduler.domain.patients import ContactChannel, Patient

    def patient(patient_id: str) -> Patient:
        return Patient(patient_id, "Ann Lee", "+14155550123", None, ContactChannel.SMS, NOW)

    with SchedulerUnitOfWork(db.engine, messaging, "scheduler").read_only() as uow:
        with pytest.raises(DBAPIError, match="(?i)read-?only"):
            uow.patients.add(patient("patient-read-only"))
    with SchedulerUnitOfWork(db.engine, messaging, "scheduler") as uow:
        uow.patients.add(patient("patient-writing"))
        uow.commit()

    assert (
        db.scalar(
            "SELECT string_agg(id, ',') FROM patients"
            if db.dialect == "postgresql"
            else "SELECT group_concat(id) FROM patients"
        )
        == "patient-writing"
    )


def test_a_read_only_unit_of_work_that_fails_to_open_leaves_its_connection_able_to_write(db):
    from services.scheduler.adapters.tables import messaging
    from services.scheduler.adapters.unit_of_work import SchedulerUnitOfWork
    from services.scheduler.domain.patients import ContactChannel, Patient

    class FailingToOpen(SchedulerUnitOfWork):
        def open_repositories(self, connection):
            raise RuntimeError("a repository could not be opened")

    with pytest.raises(RuntimeError):
        with FailingToOpen(db.engine, messaging, "scheduler").read_only():
            pass
    gc.collect()  # a connection the failed unit of work still held would go back to the pool now
    with SchedulerUnitOfWork(db.engine, messaging, "scheduler") as uow:
        uow.patients.add(Patient("patient-after", "Ann Lee", "+14155550123", None, ContactChannel.SMS, NOW))
        uow.commit()

    assert db.count("patients") == 1
