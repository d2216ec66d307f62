"""The scheduler's HTTP API: the real app on a SQLite file, through Flask's test client (nothing is started).

The clock is fixed at NOW, Tuesday 2026-12-01 07:00 in the clinic (America/New_York, UTC-5). The default clinic
applies: IV infusions need an intake, 12 hours' notice, at most 120 days ahead, 45 + 45 minutes in the chair and
15 minutes of cleaning; Tuesdays open 08:00-18:00 with Dr. Patel (08-16) and NP Okafor (10-18); Sundays and
2026-12-25 closed.
"""

import json
from datetime import UTC, datetime, timedelta

import pytest
from fakes import ride_reported
from sqlalchemy import create_engine, func, select, table

from services.scheduler.adapters.clinic_config import load_clinic
from services.scheduler.bootstrap import bootstrap
from shared.messaging import EventConsumer
from shared.settings import Settings

TOKEN = "unit-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ESCORT = {"mode": "escort", "escort_name": "Bo Lee", "escort_phone": "+14155550124"}
STARTS_AT = "2027-01-05T09:00:00-05:00"  # a Tuesday, five weeks ahead
TABLES = ("patients", "sessions", "outbox", "idempotency_keys", "series", "intake_assessments", "processed_events")


@pytest.fixture
def database_file(tmp_path):
    return tmp_path / "scheduler.sqlite3"


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def runtime(database_file, clock, monkeypatch):
    monkeypatch.delenv("CLINIC_CONFIG", raising=False)
    return bootstrap(
        Settings(
            service="scheduler",
            broker_url="memory://",
            database_url=f"sqlite:///{database_file}",
            port=0,
            service_token=TOKEN,
            scheduler_url="http://127.0.0.1:0",
        ),
        clinic=load_clinic(),
        clock=clock,
    )


@pytest.fixture
def client(runtime):
    return runtime.app.test_client()


def report_ride(runtime, session_id: str, event_type: str = "ride.confirmed", **fields) -> None:
    """Transport reports a change of the session's ride: handed to the scheduler's consumer as the broker would."""
    [consumer] = [worker for worker in runtime.workers if isinstance(worker, EventConsumer)]
    consumer.handlers[event_type](ride_reported(session_id, event_type, **fields))


@pytest.fixture
def count_rows(database_file):
    engine = create_engine(f"sqlite:///{database_file}")

    def count(name: str) -> int:
        with engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(table(name))).scalar_one()

    yield count
    engine.dispose()


@pytest.fixture
def snapshot(count_rows):
    """Row counts of every table that a request could change."""
    return lambda: {name: count_rows(name) for name in TABLES}


def register(client, **overrides) -> dict:
    body = {"name": "Ann Lee", "phone": "+14155550123", "preferred_channel": "sms", **overrides}
    response = client.post("/api/patients", json=body, headers=AUTH)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def record_intake(client, patient_id: str, completed_at: str = "2026-11-20T10:00:00-05:00"):
    return client.post(
        f"/api/patients/{patient_id}/intake", json={"completed_at": completed_at, "recorded_by": "Dr. Xu"}, headers=AUTH
    )


def register_with_intake(client, **overrides) -> dict:
    patient = register(client, **overrides)
    response = record_intake(client, patient["id"])
    assert response.status_code == 201, response.get_json()
    return patient


def book(client, patient_id: str, /, **overrides):
    body = {
        "patient_id": patient_id,
        "treatment_type": "iv_infusion",
        "starts_at": STARTS_AT,
        "chair_id": "chair-1",
        "ride_home": ESCORT,
        **overrides,
    }
    return client.post("/api/sessions", json=body, headers=AUTH)


def booked(client, patient_id: str, /, **overrides) -> dict:
    response = book(client, patient_id, **overrides)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def availability(client, **query):
    params = {"treatment_type": "iv_infusion", "from": "2027-01-05T00:00:00-05:00", "to": "2027-01-06T00:00:00-05:00"}
    params.update(query)
    return client.get("/api/availability", query_string=params, headers=AUTH)


@pytest.fixture
def patient(client) -> dict:
    """A registered patient whose intake assessment is recorded, so treatments can be booked."""
    return register_with_intake(client)


@pytest.fixture
def other_patient(client) -> dict:
    return register_with_intake(client, name="Cy Park", phone="+14155550125")


def assert_field_errors(response, status: int, *fields: str) -> dict:
    """The documented error shape: {"errors": {field: [messages]}}."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"errors"}
    assert isinstance(body["errors"], dict) and body["errors"]
    for field in fields:
        assert field in body["errors"], body
    for messages in body["errors"].values():
        if isinstance(messages, list):
            assert messages and all(isinstance(m, str) and m for m in messages)
        else:  # nested schema (ride_home): {sub_field: [messages]}
            assert isinstance(messages, dict) and messages
    return body["errors"]


def assert_refusal(response, reason: str) -> dict:
    """The documented refusal shape: {"reason": ..., "message": ...}."""
    assert response.status_code == 409, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"reason", "message"}
    assert body["reason"] == reason, body
    assert isinstance(body["message"], str) and body["message"]
    return body


# --- authentication and health -----------------------------------------------------------------------------------


def test_the_api_answers_401_without_a_bearer_token(client):
    response = client.get("/api/clinic")

    assert_field_errors(response, 401, "_request")
    assert "Bearer" in response.headers.get("WWW-Authenticate", "")


def test_the_api_answers_401_with_a_wrong_bearer_token(client):
    response = client.get("/api/clinic", headers={"Authorization": "Bearer not-the-token"})

    assert_field_errors(response, 401, "_request")


def test_a_write_without_a_token_is_refused_and_changes_nothing(client, snapshot):
    before = snapshot()

    response = client.post("/api/patients", json={"name": "Ann Lee", "phone": "+14155550123"})

    assert response.status_code == 401
    assert snapshot() == before


def test_healthz_answers_200_without_a_token(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"
    assert response.get_json()["service"] == "scheduler"
    assert response.get_json()["outbox_pending"] == 0


def test_healthz_counts_the_events_waiting_in_the_outbox(client, patient):
    booked(client, patient["id"])

    assert client.get("/healthz").get_json()["outbox_pending"] == 1


def test_the_openapi_document_is_public(client):
    response = client.get("/api/openapi.json")

    assert response.status_code == 200
    assert "/sessions" in json.dumps(response.get_json()["paths"])


# --- the clinic --------------------------------------------------------------------------------------------------


def test_the_clinic_lists_its_chairs_clinicians_hours_and_treatment_types(client):
    response = client.get("/api/clinic", headers=AUTH)

    assert response.status_code == 200
    body = response.get_json()
    assert body["time_zone"] == "America/New_York"
    assert body["slot_minutes"] == 15
    assert body["arrival_minutes_before"] == 15
    assert body["chairs"] == ["chair-1", "chair-2", "chair-3", "chair-4"]
    assert body["opening_hours"]["tuesday"] == ["08:00-18:00"]
    assert body["opening_hours"]["sunday"] == []
    assert "2026-12-25" in body["closed_on"]
    clinicians = {c["id"]: c for c in body["clinicians"]}
    assert set(clinicians) == {"dr-patel", "np-okafor"}
    assert clinicians["dr-patel"]["working_hours"]["thursday"] == ["12:00-20:00"]
    types = {t["id"]: t for t in body["treatment_types"]}
    assert set(types) == {"iv_infusion", "esketamine_nasal_spray", "intake_assessment"}
    assert (types["iv_infusion"]["treatment_minutes"], types["iv_infusion"]["recovery_minutes"]) == (45, 45)
    assert types["iv_infusion"]["turnover_minutes"] == 15
    assert types["iv_infusion"]["intake_required"] is True
    assert types["iv_infusion"]["minimum_notice_minutes"] == 720
    assert types["iv_infusion"]["booking_horizon_days"] == 120
    assert types["esketamine_nasal_spray"]["recovery_minutes"] == 120
    assert types["intake_assessment"]["ride_home_required"] is False
    assert types["intake_assessment"]["counts_as_intake"] is True


# --- patients ----------------------------------------------------------------------------------------------------


def test_registering_a_patient_answers_201_with_its_id_and_no_intake_yet(client, count_rows):
    response = client.post(
        "/api/patients", json={"name": "Ann Lee", "phone": "+1 415 555 0123", "email": "ann@example.org"}, headers=AUTH
    )

    assert response.status_code == 201
    body = response.get_json()
    assert body["id"]
    assert response.headers["Location"] == f"/api/patients/{body['id']}"
    assert body["phone"] == "+14155550123"
    assert body["preferred_channel"] == "sms"
    assert body["intake"] is None
    assert count_rows("patients") == 1
    assert client.get(f"/api/patients/{body['id']}", headers=AUTH).get_json() == body


def test_a_name_is_trimmed(client):
    assert register(client, name="  Ann Lee  ")["name"] == "Ann Lee"


@pytest.mark.parametrize("phone", ["4155550123", "+1415", "call me", "+999123456789", "+1415555012345678901234"])
def test_a_phone_not_in_e164_form_is_refused_with_errors_on_phone(client, phone, snapshot):
    before = snapshot()

    response = client.post("/api/patients", json={"name": "Ann Lee", "phone": phone}, headers=AUTH)

    errors = assert_field_errors(response, 422, "phone")
    assert "E.164" in errors["phone"][0]
    assert snapshot() == before


@pytest.mark.parametrize(
    "name",
    [
        "Ann\nLee",
        "Ann\rLee",
        "Ann\tLee",
        "Ann\x00Lee",
        "Ann\x1bLee",
        "Ann\x7fLee",
        "Ann\x85Lee",  # NEL: a C1 control character and a line break
        "Ann\u2028Lee",  # LINE SEPARATOR
    ],
    ids=["LF", "CR", "TAB", "NUL", "ESC", "DEL", "NEL", "U+2028"],
)
def test_a_name_with_a_control_character_or_line_break_is_refused_with_errors_on_name(client, name, snapshot):
    before = snapshot()

    response = client.post("/api/patients", json={"name": name, "phone": "+14155550123"}, headers=AUTH)

    assert_field_errors(response, 422, "name")
    assert snapshot() == before


@pytest.mark.parametrize("name", ["", "   ", "A" * 201])
def test_an_empty_blank_or_overlong_name_is_refused_with_errors_on_name(client, name, snapshot):
    before = snapshot()

    response = client.post("/api/patients", json={"name": name, "phone": "+14155550123"}, headers=AUTH)

    assert_field_errors(response, 422, "name")
    assert snapshot() == before


def test_a_registration_without_name_and_phone_names_both_missing_fields(client, snapshot):
    before = snapshot()

    response = client.post("/api/patients", json={}, headers=AUTH)

    errors = assert_field_errors(response, 422, "name", "phone")
    assert errors["name"] == ["Missing data for required field."]
    assert snapshot() == before


@pytest.mark.parametrize(
    "field, value",
    [("name", 42), ("name", ["Ann"]), ("phone", 14155550123), ("email", "not-an-email"), ("preferred_channel", "fax")],
)
def test_a_registration_field_of_the_wrong_type_or_form_is_refused_naming_it(client, field, value, snapshot):
    before = snapshot()
    body = {"name": "Ann Lee", "phone": "+14155550123", field: value}

    response = client.post("/api/patients", json=body, headers=AUTH)

    assert_field_errors(response, 422, field)
    assert snapshot() == before


def test_email_as_preferred_channel_without_an_email_is_refused_with_errors_on_email(client, snapshot):
    before = snapshot()

    response = client.post(
        "/api/patients", json={"name": "Ann Lee", "phone": "+14155550123", "preferred_channel": "email"}, headers=AUTH
    )

    assert_field_errors(response, 422, "email")
    assert snapshot() == before


def test_an_unknown_patient_is_404(client):
    response = client.get("/api/patients/nobody", headers=AUTH)

    assert_field_errors(response, 404, "_request")


# --- contact preferences: language, reminders, channel, e-mail and phone ------------------------------------------


def change(client, patient_id: str, body, **kwargs):
    return client.patch(f"/api/patients/{patient_id}", json=body, headers=AUTH, **kwargs)


def shown(client, patient_id: str) -> dict:
    response = client.get(f"/api/patients/{patient_id}", headers=AUTH)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_new_patient_is_written_to_in_english_and_gets_reminders_unless_the_registration_says_otherwise(client):
    default = register(client)
    chosen = register(client, name="Lia Ruiz", phone="+14155550126", language="es", reminders_opt_out=True)

    assert (default["language"], default["reminders_opt_out"]) == ("en", False)
    assert (chosen["language"], chosen["reminders_opt_out"]) == ("es", True)
    assert shown(client, default["id"]) == default
    assert shown(client, chosen["id"]) == chosen


@pytest.mark.parametrize(
    "field, value",
    [
        ("language", "fr"),
        ("language", "ES"),
        ("language", ""),
        ("language", None),
        ("language", 1),
        ("reminders_opt_out", "true"),
        ("reminders_opt_out", 1),
        ("reminders_opt_out", 0),
        ("reminders_opt_out", "yes"),
        ("reminders_opt_out", None),
    ],
)
def test_a_registration_with_an_unknown_language_or_an_opt_out_that_is_not_true_or_false_is_refused_naming_it(
    client, field, value, snapshot
):
    before = snapshot()

    response = client.post(
        "/api/patients", json={"name": "Ann Lee", "phone": "+14155550123", field: value}, headers=AUTH
    )

    assert set(assert_field_errors(response, 422, field)) == {field}
    assert snapshot() == before


def test_changing_a_patients_language_and_opting_out_of_reminders_answers_200_and_keeps_everything_else(client):
    patient = shown(client, register_with_intake(client, email="ann@example.org")["id"])

    response = change(client, patient["id"], {"language": "es", "reminders_opt_out": True})

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {**patient, "language": "es", "reminders_opt_out": True}
    assert shown(client, patient["id"]) == response.get_json()
    assert patient["intake"]["recorded_by"] == "Dr. Xu"


def test_a_patient_who_opted_out_can_opt_in_again(client):
    patient = register(client, reminders_opt_out=True)

    response = change(client, patient["id"], {"reminders_opt_out": False})

    assert response.status_code == 200, response.get_json()
    assert shown(client, patient["id"])["reminders_opt_out"] is False


def test_a_change_of_channel_to_email_that_brings_the_address_is_accepted(client):
    patient = register(client)

    response = change(client, patient["id"], {"preferred_channel": "email", "email": "ann@example.org"})

    assert response.status_code == 200, response.get_json()
    assert shown(client, patient["id"]) == {**patient, "preferred_channel": "email", "email": "ann@example.org"}


def test_a_new_phone_is_stored_in_e164_form_and_nothing_else_changes(client):
    patient = register(client)

    response = change(client, patient["id"], {"phone": "+1 415-555-0199"})

    assert response.status_code == 200, response.get_json()
    assert shown(client, patient["id"]) == {**patient, "phone": "+14155550199"}


def test_the_email_of_a_patient_reached_by_sms_can_be_removed(client):
    patient = register(client, email="ann@example.org")

    response = change(client, patient["id"], {"email": None})

    assert response.status_code == 200, response.get_json()
    assert shown(client, patient["id"]) == {**patient, "email": None}


@pytest.mark.parametrize(
    "registered, body",
    [
        ({}, {"preferred_channel": "email"}),
        ({"email": "ann@example.org", "preferred_channel": "email"}, {"email": None}),
        ({"email": "ann@example.org"}, {"preferred_channel": "email", "email": None}),
    ],
    ids=["email channel without an address", "address removed from an email patient", "both at once"],
)
def test_a_change_that_leaves_a_patient_reached_by_email_without_an_address_is_refused_on_email_and_changes_nothing(
    client, registered, body, snapshot
):
    patient = register(client, **registered)
    before = snapshot()

    response = change(client, patient["id"], body)

    errors = assert_field_errors(response, 422, "email")
    assert errors == {"email": ["An e-mail address is needed to reach the patient by e-mail."]}
    assert shown(client, patient["id"]) == patient
    assert snapshot() == before


def test_a_change_naming_nothing_to_change_is_refused_and_changes_nothing(client, snapshot):
    patient = register(client)
    before = snapshot()

    response = change(client, patient["id"], {})

    errors = assert_field_errors(response, 422, "_schema")
    assert "preferred_channel, language, reminders_opt_out, email, phone" in errors["_schema"][0]
    assert shown(client, patient["id"]) == patient
    assert snapshot() == before


@pytest.mark.parametrize("field, value", [("name", "Ann Smith"), ("id", "p-2"), ("intake", None), ("fax", "+1415")])
def test_a_change_of_a_field_that_is_not_a_contact_preference_is_refused_naming_it_and_changes_nothing(
    client, field, value, snapshot
):
    patient = register(client)
    before = snapshot()

    response = change(client, patient["id"], {"language": "es", field: value})

    assert set(assert_field_errors(response, 422, field)) == {field}
    assert shown(client, patient["id"]) == patient
    assert snapshot() == before


@pytest.mark.parametrize(
    "field, value",
    [
        ("preferred_channel", "fax"),
        ("preferred_channel", None),
        ("language", "fr"),
        ("language", None),
        ("reminders_opt_out", "false"),
        ("reminders_opt_out", 1),
        ("reminders_opt_out", None),
        ("email", "not-an-email"),
        ("email", "a" * 310 + "@example.org"),
        ("phone", "4155550123"),
        ("phone", None),
        ("phone", 14155550123),
    ],
)
def test_a_change_field_of_the_wrong_type_or_form_is_refused_naming_it_and_changes_nothing(
    client, field, value, snapshot
):
    patient = register(client, email="ann@example.org")
    before = snapshot()

    response = change(client, patient["id"], {field: value, **({"language": "es"} if field != "language" else {})})

    assert set(assert_field_errors(response, 422, field)) == {field}
    assert shown(client, patient["id"]) == patient
    assert snapshot() == before


def test_changing_an_unknown_patient_is_404_and_changes_nothing(client, snapshot):
    before = snapshot()

    response = change(client, "nobody", {"language": "es"})

    assert_field_errors(response, 404, "_request")
    assert snapshot() == before


def test_a_change_not_declared_as_json_is_415_and_changes_nothing(client, snapshot):
    patient = register(client)
    before = snapshot()

    response = client.patch(
        f"/api/patients/{patient['id']}",
        data=json.dumps({"language": "es"}),
        headers={**AUTH, "Content-Type": "text/plain"},
    )

    assert_field_errors(response, 415, "_request")
    assert shown(client, patient["id"]) == patient
    assert snapshot() == before


def test_a_change_without_a_token_is_401_and_changes_nothing(client, snapshot):
    patient = register(client)

    response = client.patch(f"/api/patients/{patient['id']}", json={"language": "es"})

    assert response.status_code == 401
    assert shown(client, patient["id"]) == patient


def test_a_change_of_contact_preferences_publishes_nothing_and_logs_no_contact_detail(client, count_rows, caplog):
    patient = register(client)
    outbox = count_rows("outbox")
    caplog.set_level("DEBUG")

    response = change(client, patient["id"], {"email": "lia.private@example.org", "phone": "+14155550188"})

    assert response.status_code == 200, response.get_json()
    assert count_rows("outbox") == outbox
    assert "lia.private" not in caplog.text and "5550188" not in caplog.text


# --- intake ------------------------------------------------------------------------------------------------------


def test_recording_an_intake_answers_201_and_shows_on_the_patient(client, count_rows):
    patient = register(client)

    response = record_intake(client, patient["id"], "2026-11-20T15:00:00Z")

    assert response.status_code == 201, response.get_json()
    assert response.get_json() == {
        "completed_at": "2026-11-20T10:00:00-05:00",
        "recorded_by": "Dr. Xu",
        "session_id": None,
    }
    assert count_rows("intake_assessments") == 1
    intake = client.get(f"/api/patients/{patient['id']}", headers=AUTH).get_json()["intake"]
    assert intake["completed_at"] == "2026-11-20T10:00:00-05:00"


def test_without_an_intake_an_iv_infusion_is_refused_as_intake_required_and_changes_nothing(client, snapshot):
    patient = register(client)
    before = snapshot()

    response = book(client, patient["id"])

    assert_refusal(response, "intake_required")
    assert snapshot() == before


def test_after_recording_an_intake_the_iv_infusion_books(client):
    patient = register(client)
    assert_refusal(book(client, patient["id"]), "intake_required")

    assert record_intake(client, patient["id"]).status_code == 201

    assert book(client, patient["id"]).status_code == 201


@pytest.mark.parametrize(
    "body, field",
    [
        ({"completed_at": "2026-12-02T10:00:00-05:00", "recorded_by": "Dr. Xu"}, "completed_at"),  # in the future
        ({"completed_at": "2026-11-20T10:00:00", "recorded_by": "Dr. Xu"}, "completed_at"),  # naive
        ({"completed_at": "yesterday", "recorded_by": "Dr. Xu"}, "completed_at"),
        ({"completed_at": 1764000000, "recorded_by": "Dr. Xu"}, "completed_at"),
        ({"recorded_by": "Dr. Xu"}, "completed_at"),
        ({"completed_at": "2026-11-20T10:00:00-05:00"}, "recorded_by"),
        ({"completed_at": "2026-11-20T10:00:00-05:00", "recorded_by": "Dr.\nXu"}, "recorded_by"),
        ({"completed_at": "2026-11-20T10:00:00-05:00", "recorded_by": "Dr. Xu", "score": 7}, "score"),
    ],
    ids=[
        "future",
        "naive",
        "not-a-time",
        "a-number",
        "no-completed_at",
        "no-recorded_by",
        "line-break",
        "unknown-field",
    ],
)
def test_a_bad_intake_is_refused_with_422_naming_the_field_and_changes_nothing(client, body, field, snapshot):
    patient = register(client)
    before = snapshot()

    response = client.post(f"/api/patients/{patient['id']}/intake", json=body, headers=AUTH)

    assert_field_errors(response, 422, field)
    assert snapshot() == before


def test_an_intake_for_an_unknown_patient_is_404_and_changes_nothing(client, snapshot):
    before = snapshot()

    response = record_intake(client, "nobody")

    assert_field_errors(response, 404, "_request")
    assert snapshot() == before


# --- booking -----------------------------------------------------------------------------------------------------


def test_booking_answers_201_with_the_times_in_the_clinics_offset(client, patient, count_rows):
    response = book(client, patient["id"], starts_at="2027-01-05T14:00:00Z")

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "booked"
    assert body["patient_id"] == patient["id"]
    assert body["chair_id"] == "chair-1"
    assert body["clinician_id"] == "dr-patel"  # NP Okafor starts at 10:00 on Tuesdays
    assert body["series_id"] is None
    assert body["starts_at"] == "2027-01-05T09:00:00-05:00"
    assert body["treatment_ends_at"] == "2027-01-05T09:45:00-05:00"
    assert body["recovery_ends_at"] == "2027-01-05T10:30:00-05:00"
    assert body["chair_free_at"] == "2027-01-05T10:45:00-05:00"
    assert body["ride_home"] == {**ESCORT, "dropoff_address": None}
    assert response.headers["Location"] == f"/api/sessions/{body['id']}"
    assert count_rows("sessions") == 1
    assert count_rows("outbox") == 1


def test_a_start_given_in_another_offset_is_the_same_instant_answered_in_the_clinics_offset(client, patient):
    body = booked(client, patient["id"], starts_at="2027-01-05T19:30:00+05:30")

    assert body["starts_at"] == "2027-01-05T09:00:00-05:00"


def test_a_session_after_the_spring_change_carries_the_summer_offset(client, patient):
    body = booked(client, patient["id"], starts_at="2027-03-16T09:00:00-04:00")

    assert body["starts_at"] == "2027-03-16T09:00:00-04:00"
    assert body["recovery_ends_at"] == "2027-03-16T10:30:00-04:00"


def test_a_booked_session_reads_back_the_same(client, patient):
    session = booked(client, patient["id"])

    response = client.get(f"/api/sessions/{session['id']}", headers=AUTH)

    assert response.status_code == 200
    assert response.get_json() == session


def test_the_outbox_row_is_the_session_booked_event_without_personal_details(client, patient, database_file):
    session = booked(client, patient["id"])
    engine = create_engine(f"sqlite:///{database_file}")
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT routing_key, correlation_id, body FROM outbox").all()
    engine.dispose()

    [(routing_key, correlation_id, body)] = rows
    assert (routing_key, correlation_id) == ("session.booked", session["id"])
    document = json.loads(body)
    assert document["producer"] == "scheduler"
    assert document["data"]["session_id"] == session["id"]
    assert document["data"]["clinician_id"] == "dr-patel"
    assert datetime.fromisoformat(document["data"]["starts_at"]) == datetime(2027, 1, 5, 14, tzinfo=UTC)
    for detail in ("Ann Lee", "+14155550123", "Bo Lee", "+14155550124"):
        assert detail not in body


def test_a_booking_without_its_required_fields_names_each_of_them(client, snapshot):
    before = snapshot()

    response = client.post("/api/sessions", json={}, headers=AUTH)

    assert_field_errors(response, 422, "patient_id", "treatment_type", "starts_at")
    assert snapshot() == before


@pytest.mark.parametrize(
    "field, value",
    [
        ("patient_id", 123),
        ("patient_id", None),
        ("patient_id", "../etc/passwd"),
        ("treatment_type", ["iv_infusion"]),
        ("starts_at", 1799222400),
        ("starts_at", ""),
        ("starts_at", None),
        ("starts_at", "next tuesday"),
        ("chair_id", 1),
        ("clinician_id", {"id": "dr-patel"}),
        ("ride_home", "yes"),
        ("ride_home", {"mode": "taxi", "escort_name": "Bo Lee", "escort_phone": "+14155550124"}),
        ("ride_home", {"mode": "escort", "escort_name": "Bo Lee", "escort_phone": "555"}),
        ("ride_home", {"mode": "escort", "escort_phone": "+14155550124"}),
        ("discount", "50%"),
    ],
)
def test_a_booking_field_of_the_wrong_type_or_form_is_refused_naming_it(client, patient, field, value, snapshot):
    before = snapshot()

    response = book(client, patient["id"], **{field: value})

    assert_field_errors(response, 422, field)
    assert snapshot() == before


def test_a_naive_starts_at_is_refused_with_errors_on_starts_at(client, patient, snapshot):
    before = snapshot()

    response = book(client, patient["id"], starts_at="2027-01-05T09:00:00")

    errors = assert_field_errors(response, 422, "starts_at")
    assert "offset" in errors["starts_at"][0]
    assert snapshot() == before


@pytest.mark.parametrize(
    "starts_at",
    [
        "2001-01-02T09:00:00-05:00",  # far past
        "2026-11-30T09:00:00-05:00",  # yesterday
        "2026-12-01T07:00:00-05:00",  # now
        "2027-03-31T08:15:00-04:00",  # 120 days and 15 minutes ahead
        "2027-06-01T09:00:00-04:00",  # beyond the horizon
        "2999-12-31T09:00:00-05:00",  # far future
        "9999-12-31T23:00:00+00:00",  # its recovery would end past the largest date Python holds
        "2027-01-05T09:07:00-05:00",  # off the 15-minute grid
        "2027-01-05T09:00:30-05:00",
        "2027-01-05T09:00:00.500000-05:00",
        "2027-01-05T14:10:00+00:00",  # 09:10 local
    ],
    ids=[
        "far-past",
        "yesterday",
        "now",
        "just-past-horizon",
        "beyond-horizon",
        "far-future",
        "year-9999",
        "minute-7",
        "second-30",
        "half-second",
        "utc-off-grid",
    ],
)
def test_a_start_in_the_past_beyond_the_horizon_or_off_the_grid_is_refused_with_errors_on_starts_at(
    client, patient, starts_at, snapshot
):
    before = snapshot()

    response = book(client, patient["id"], starts_at=starts_at)

    assert_field_errors(response, 422, "starts_at")
    assert snapshot() == before


def test_a_start_exactly_at_the_end_of_the_horizon_is_accepted(client, patient):
    # NOW + 120 days = 2027-03-31T12:00Z = 08:00 local (summer time), a Wednesday morning.
    response = book(client, patient["id"], starts_at="2027-03-31T08:00:00-04:00")

    assert response.status_code == 201, response.get_json()


def test_a_start_within_the_twelve_hours_notice_is_refused_as_short_notice(client, patient, snapshot):
    before = snapshot()

    response = book(client, patient["id"], starts_at="2026-12-01T10:00:00-05:00")  # three hours from now

    assert_refusal(response, "short_notice")
    assert snapshot() == before


def test_an_intake_assessment_needs_one_hour_notice_only(client):
    patient = register(client)

    response = book(
        client, patient["id"], treatment_type="intake_assessment", starts_at="2026-12-01T08:00:00-05:00", ride_home=None
    )

    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize(
    "starts_at",
    [
        "2027-01-03T10:00:00-05:00",  # a Sunday
        "2026-12-25T10:00:00-05:00",  # a holiday on a Friday
        "2027-01-05T07:45:00-05:00",  # before opening
        "2027-01-05T16:45:00-05:00",  # recovery would end at 18:15, after closing
        "2027-01-09T13:00:00-05:00",  # Saturday closes at 14:00; recovery ends 14:30
    ],
    ids=["sunday", "holiday", "before-opening", "recovery-after-closing", "saturday-afternoon"],
)
def test_a_session_outside_opening_hours_is_refused_as_clinic_closed(client, patient, starts_at, snapshot):
    before = snapshot()

    response = book(client, patient["id"], starts_at=starts_at)

    assert_refusal(response, "clinic_closed")
    assert snapshot() == before


def test_an_unknown_treatment_type_is_refused_with_errors_on_treatment_type(client, patient, snapshot):
    before = snapshot()

    response = book(client, patient["id"], treatment_type="laughing_gas")

    assert_field_errors(response, 422, "treatment_type")
    assert snapshot() == before


def test_a_ketamine_treatment_without_a_ride_home_is_refused_with_errors_on_ride_home(client, patient, snapshot):
    before = snapshot()

    response = book(client, patient["id"], ride_home=None)

    assert_field_errors(response, 422, "ride_home")
    assert snapshot() == before


def test_an_intake_is_booked_without_a_ride_home_and_without_turnover(client):
    patient = register(client)

    response = book(client, patient["id"], treatment_type="intake_assessment", ride_home=None)

    assert response.status_code == 201
    assert response.get_json()["ride_home"]["mode"] == "none"
    assert response.get_json()["recovery_ends_at"] == "2027-01-05T10:00:00-05:00"
    assert response.get_json()["chair_free_at"] == "2027-01-05T10:00:00-05:00"


def test_an_unknown_patient_is_refused_with_errors_on_patient_id(client, snapshot):
    before = snapshot()

    response = book(client, "nobody")

    assert_field_errors(response, 422, "patient_id")
    assert snapshot() == before


def test_an_unknown_chair_is_refused_with_errors_on_chair_id(client, patient, snapshot):
    before = snapshot()

    response = book(client, patient["id"], chair_id="chair-99")

    assert_field_errors(response, 422, "chair_id")
    assert snapshot() == before


def test_an_unknown_clinician_is_refused_with_errors_on_clinician_id(client, patient, snapshot):
    before = snapshot()

    response = book(client, patient["id"], clinician_id="dr-nobody")

    errors = assert_field_errors(response, 422, "clinician_id")
    assert "dr-patel" in errors["clinician_id"][0]
    assert snapshot() == before


def test_a_clinician_asked_for_outside_their_working_hours_is_refused_as_clinician_unavailable(
    client, patient, snapshot
):
    before = snapshot()

    # Dr. Patel does not work on Saturdays.
    response = book(client, patient["id"], starts_at="2027-01-09T10:00:00-05:00", clinician_id="dr-patel")

    assert_refusal(response, "clinician_unavailable")
    assert snapshot() == before


def test_a_body_that_is_not_declared_as_json_is_415(client, patient, snapshot):
    before = snapshot()

    response = client.post(
        "/api/sessions",
        data=json.dumps({"patient_id": patient["id"]}),
        headers={**AUTH, "Content-Type": "text/plain"},
    )

    assert_field_errors(response, 415, "_request")
    assert snapshot() == before


def test_a_form_post_is_415(client, patient, snapshot):
    before = snapshot()

    response = client.post("/api/sessions", data={"patient_id": patient["id"]}, headers=AUTH)

    assert_field_errors(response, 415, "_request")
    assert snapshot() == before


@pytest.mark.parametrize("data", ["{not json", '{"patient_id": ', "", "\xff"])
def test_invalid_json_is_400(client, data, snapshot):
    before = snapshot()

    response = client.post("/api/sessions", data=data, headers={**AUTH, "Content-Type": "application/json"})

    assert_field_errors(response, 400, "_request")
    assert snapshot() == before


def test_a_body_over_64_kib_is_413(client, snapshot):
    before = snapshot()
    big = json.dumps({"name": "A" * (65 * 1024), "phone": "+14155550123"})

    response = client.post("/api/patients", data=big, headers={**AUTH, "Content-Type": "application/json"})

    assert_field_errors(response, 413, "_request")
    assert snapshot() == before


def test_a_booking_body_over_64_kib_is_413(client, patient, snapshot):
    before = snapshot()
    big = json.dumps({"patient_id": patient["id"], "treatment_type": "iv_infusion", "padding": "x" * (70 * 1024)})

    response = client.post("/api/sessions", data=big, headers={**AUTH, "Content-Type": "application/json"})

    assert_field_errors(response, 413, "_request")
    assert snapshot() == before


@pytest.mark.parametrize("document", ["[{}]", '"a string"', "42", "true", "null"])
def test_a_json_body_that_is_not_an_object_is_422(client, document, snapshot):
    before = snapshot()

    response = client.post("/api/sessions", data=document, headers={**AUTH, "Content-Type": "application/json"})

    errors = assert_field_errors(response, 422, "_schema")
    assert "object" in errors["_schema"][0]
    assert snapshot() == before


@pytest.mark.parametrize(
    "key", ["", "k" * 256, "tab\there", "clé", "bell\x07"], ids=["empty", "256-chars", "tab", "non-ascii", "control"]
)
def test_a_malformed_idempotency_key_is_refused_with_errors_on_the_header_and_changes_nothing(
    client, patient, key, snapshot
):
    before = snapshot()
    body = {"patient_id": patient["id"], "treatment_type": "iv_infusion", "starts_at": STARTS_AT, "ride_home": ESCORT}

    response = client.post("/api/sessions", json=body, headers={**AUTH, "Idempotency-Key": key})

    assert_field_errors(response, 422, "Idempotency-Key")
    assert snapshot() == before


def test_a_255_character_idempotency_key_is_accepted(client, patient):
    body = {"patient_id": patient["id"], "treatment_type": "iv_infusion", "starts_at": STARTS_AT, "ride_home": ESCORT}

    response = client.post("/api/sessions", json=body, headers={**AUTH, "Idempotency-Key": "k" * 255})

    assert response.status_code == 201


def test_the_same_idempotency_key_twice_answers_the_same_session_once(client, patient, snapshot):
    body = {"patient_id": patient["id"], "treatment_type": "iv_infusion", "starts_at": STARTS_AT, "ride_home": ESCORT}
    first = client.post("/api/sessions", json=body, headers={**AUTH, "Idempotency-Key": "booking-1"})
    assert first.status_code == 201
    before = snapshot()

    again = client.post("/api/sessions", json=body, headers={**AUTH, "Idempotency-Key": "booking-1"})

    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert again.get_json() == first.get_json()
    assert snapshot() == before


def test_the_same_idempotency_key_with_another_body_is_409_and_changes_nothing(client, patient, snapshot):
    body = {"patient_id": patient["id"], "treatment_type": "iv_infusion", "starts_at": STARTS_AT, "ride_home": ESCORT}
    assert client.post("/api/sessions", json=body, headers={**AUTH, "Idempotency-Key": "booking-1"}).status_code == 201
    before = snapshot()

    response = client.post(
        "/api/sessions",
        json={**body, "starts_at": "2027-01-06T09:00:00-05:00"},
        headers={**AUTH, "Idempotency-Key": "booking-1"},
    )

    assert_refusal(response, "idempotency_key_reused")
    assert snapshot() == before


def test_a_key_whose_request_was_refused_is_free_for_the_corrected_request(client, patient, count_rows):
    body = {"patient_id": patient["id"], "treatment_type": "iv_infusion", "starts_at": "2027-01-03T10:00:00-05:00"}
    refused = client.post(
        "/api/sessions", json={**body, "ride_home": ESCORT}, headers={**AUTH, "Idempotency-Key": "k-1"}
    )
    assert_refusal(refused, "clinic_closed")
    assert count_rows("idempotency_keys") == 0

    response = client.post(
        "/api/sessions",
        json={**body, "starts_at": STARTS_AT, "ride_home": ESCORT},
        headers={**AUTH, "Idempotency-Key": "k-1"},
    )

    assert response.status_code == 201
    assert count_rows("idempotency_keys") == 1


# --- what one booking leaves for the next ------------------------------------------------------------------------


def test_an_overlapping_booking_of_the_same_chair_is_409_chair_unavailable_and_changes_nothing(
    client, patient, other_patient, snapshot
):
    booked(client, patient["id"])
    before = snapshot()

    # 10:00 local is still within the first session's recovery (until 10:30).
    response = book(client, other_patient["id"], starts_at="2027-01-05T10:00:00-05:00")

    body = assert_refusal(response, "chair_unavailable")
    assert "chair-1" in body["message"]
    assert snapshot() == before


def test_the_chair_stays_taken_for_the_cleaning_turnover_after_recovery(client, patient, other_patient, snapshot):
    booked(client, patient["id"])  # 09:00, recovery until 10:30, cleaning until 10:45
    before = snapshot()

    response = book(client, other_patient["id"], starts_at="2027-01-05T10:30:00-05:00")

    assert_refusal(response, "chair_unavailable")
    assert snapshot() == before


def test_a_booking_starting_when_the_turnover_ends_is_accepted(client, patient, other_patient):
    booked(client, patient["id"])

    response = book(client, other_patient["id"], starts_at="2027-01-05T10:45:00-05:00")

    assert response.status_code == 201
    assert response.get_json()["chair_id"] == "chair-1"


def test_without_a_chair_the_api_picks_a_free_one(client, patient, other_patient):
    first = booked(client, patient["id"], starts_at="2027-01-05T10:00:00-05:00")

    second = book(client, other_patient["id"], chair_id=None, starts_at="2027-01-05T10:00:00-05:00")

    assert second.status_code == 201
    assert second.get_json()["chair_id"] != first["chair_id"]


def test_a_clinician_treating_someone_is_refused_as_clinician_unavailable(client, patient, other_patient, snapshot):
    booked(client, patient["id"], clinician_id="dr-patel")
    before = snapshot()

    response = book(client, other_patient["id"], chair_id="chair-2", clinician_id="dr-patel")

    assert_refusal(response, "clinician_unavailable")
    assert snapshot() == before


def test_a_clinician_is_free_again_when_the_treatment_part_ends(client, patient, other_patient):
    booked(client, patient["id"], clinician_id="dr-patel")  # treating 09:00-09:45

    response = book(
        client, other_patient["id"], chair_id="chair-2", clinician_id="dr-patel", starts_at="2027-01-05T09:45:00-05:00"
    )

    assert response.status_code == 201, response.get_json()


def test_with_both_clinicians_treating_a_third_patient_is_refused_as_no_clinician_available(client, snapshot):
    patients = [register_with_intake(client, phone=f"+1415555013{n}") for n in range(3)]
    at_ten = "2027-01-05T10:00:00-05:00"
    assert {booked(client, p["id"], chair_id=None, starts_at=at_ten)["clinician_id"] for p in patients[:2]} == {
        "dr-patel",
        "np-okafor",
    }
    before = snapshot()

    response = book(client, patients[2]["id"], chair_id=None, starts_at=at_ten)

    assert_refusal(response, "no_clinician_available")
    assert snapshot() == before


def test_the_same_patient_at_an_overlapping_time_is_refused_as_patient_overlap(client, patient, snapshot):
    booked(client, patient["id"])
    before = snapshot()

    response = book(client, patient["id"], chair_id="chair-2", starts_at="2027-01-05T09:30:00-05:00")

    assert_refusal(response, "patient_overlap")
    assert snapshot() == before


def test_two_infusions_of_one_patient_less_than_20_hours_apart_are_refused_as_patient_spacing(
    client, patient, snapshot
):
    booked(client, patient["id"])
    before = snapshot()

    response = book(client, patient["id"], starts_at="2027-01-05T14:00:00-05:00")

    assert_refusal(response, "patient_spacing")
    assert snapshot() == before


def test_two_infusions_of_one_patient_on_consecutive_days_are_accepted(client, patient):
    booked(client, patient["id"])

    response = book(client, patient["id"], starts_at="2027-01-06T08:00:00-05:00")  # 23 hours later

    assert response.status_code == 201


# --- availability ------------------------------------------------------------------------------------------------


def test_availability_lists_the_days_starts_in_the_clinics_offset(client):
    response = availability(client)

    assert response.status_code == 200
    body = response.get_json()
    assert body["treatment_type"] == "iv_infusion"
    assert body["time_zone"] == "America/New_York"
    starts = [slot["starts_at"] for slot in body["slots"]]
    # 08:00 to 16:30 every quarter hour: the recovery of a 16:30 start ends at closing time, 18:00.
    assert starts[0] == "2027-01-05T08:00:00-05:00"
    assert starts[-1] == "2027-01-05T16:30:00-05:00"
    assert len(starts) == 35
    assert body["slots"][0] == {
        "starts_at": "2027-01-05T08:00:00-05:00",
        "treatment_ends_at": "2027-01-05T08:45:00-05:00",
        "recovery_ends_at": "2027-01-05T09:30:00-05:00",
    }


def test_availability_for_a_patient_without_intake_lists_nothing(client):
    patient = register(client)

    response = availability(client, patient_id=patient["id"])

    assert response.status_code == 200
    assert response.get_json()["slots"] == []


def test_availability_within_the_notice_period_or_on_a_closed_day_lists_nothing(client):
    today = availability(client, **{"from": "2026-12-01T00:00:00-05:00", "to": "2026-12-02T00:00:00-05:00"})
    sunday = availability(client, **{"from": "2027-01-03T00:00:00-05:00", "to": "2027-01-04T00:00:00-05:00"})

    assert today.get_json()["slots"] == []
    assert sunday.get_json()["slots"] == []


@pytest.mark.parametrize(
    "query, field",
    [
        ({"treatment_type": None}, "treatment_type"),
        ({"from": None}, "from"),
        ({"to": None}, "to"),
        ({"treatment_type": "laughing_gas"}, "treatment_type"),
        ({"from": "2027-01-05T00:00:00"}, "from"),
        ({"to": "tomorrow"}, "to"),
        ({"to": "2027-01-04T00:00:00-05:00"}, "to"),  # before from
        ({"to": "2027-01-05T00:00:00-05:00"}, "to"),  # equal to from
        ({"to": "2027-03-09T00:00:00-05:00"}, "to"),  # 63 days
        ({"to": "2027-03-08T01:00:00-05:00"}, "to"),  # 62 days and one hour
        ({"patient_id": "nobody"}, "patient_id"),
        ({"chair_id": "chair-99"}, "chair_id"),
        ({"clinician_id": "dr-nobody"}, "clinician_id"),
        ({"chair_id": "chair-1\n"}, "chair_id"),
        ({"colour": "blue"}, "colour"),
    ],
    ids=[
        "no-treatment_type",
        "no-from",
        "no-to",
        "unknown-treatment",
        "naive-from",
        "bad-to",
        "to-before-from",
        "to-equals-from",
        "63-days",
        "62-days-and-an-hour",
        "unknown-patient",
        "unknown-chair",
        "unknown-clinician",
        "id-with-a-line-break",
        "unknown-parameter",
    ],
)
def test_a_bad_availability_query_is_422_naming_the_parameter(client, query, field):
    params = {"treatment_type": "iv_infusion", "from": "2027-01-05T00:00:00-05:00", "to": "2027-01-06T00:00:00-05:00"}
    params.update(query)
    params = {k: v for k, v in params.items() if v is not None}

    response = client.get("/api/availability", query_string=params, headers=AUTH)

    assert_field_errors(response, 422, field)


# --- listing sessions --------------------------------------------------------------------------------------------


def test_sessions_are_listed_by_start_within_the_window(client, patient, other_patient):
    first = booked(client, patient["id"])
    second = booked(client, other_patient["id"], starts_at="2027-01-06T09:00:00-05:00")

    response = client.get(
        "/api/sessions",
        query_string={"from": "2027-01-05T00:00:00-05:00", "to": "2027-01-07T00:00:00-05:00"},
        headers=AUTH,
    )
    only_first = client.get(
        "/api/sessions",
        query_string={"from": "2027-01-05T00:00:00-05:00", "to": "2027-01-06T00:00:00-05:00"},
        headers=AUTH,
    )

    assert response.status_code == 200
    assert [s["id"] for s in response.get_json()["sessions"]] == [first["id"], second["id"]]
    assert [s["id"] for s in only_first.get_json()["sessions"]] == [first["id"]]


@pytest.mark.parametrize(
    "query, field",
    [
        ({"to": "2027-01-06T00:00:00-05:00"}, "from"),
        ({"from": "2027-01-05T00:00:00-05:00"}, "to"),
        ({"from": "2027-01-05T00:00:00", "to": "2027-01-06T00:00:00-05:00"}, "from"),
        ({"from": "2027-01-05T00:00:00-05:00", "to": "2027-01-04T00:00:00-05:00"}, "to"),
        ({"from": "2027-01-05T00:00:00-05:00", "to": "2027-06-01T00:00:00-04:00"}, "to"),
    ],
    ids=["no-from", "no-to", "naive-from", "to-before-from", "too-long"],
)
def test_a_bad_session_listing_query_is_422_naming_the_parameter(client, query, field):
    response = client.get("/api/sessions", query_string=query, headers=AUTH)

    assert_field_errors(response, 422, field)


# --- rescheduling ------------------------------------------------------------------------------------------------


def test_rescheduling_moves_the_session_and_writes_session_rescheduled(client, patient, count_rows):
    session = booked(client, patient["id"])

    response = client.post(
        f"/api/sessions/{session['id']}/reschedule", json={"starts_at": "2027-01-06T11:00:00-05:00"}, headers=AUTH
    )

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "booked"
    assert body["starts_at"] == "2027-01-06T11:00:00-05:00"
    assert body["chair_free_at"] == "2027-01-06T12:45:00-05:00"
    assert count_rows("outbox") == 2


def test_a_session_can_be_moved_within_its_own_old_block(client, patient):
    session = booked(client, patient["id"])

    response = client.post(
        f"/api/sessions/{session['id']}/reschedule",
        json={"starts_at": "2027-01-05T09:30:00-05:00", "chair_id": "chair-1"},
        headers=AUTH,
    )

    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "starts_at"),
        ({"starts_at": "2027-01-06T11:00:00"}, "starts_at"),
        ({"starts_at": "2027-01-06T11:05:00-05:00"}, "starts_at"),
        ({"starts_at": "2026-11-01T11:00:00-05:00"}, "starts_at"),
        ({"starts_at": "2027-05-04T11:00:00-04:00"}, "starts_at"),
        ({"starts_at": "2027-01-06T11:00:00-05:00", "chair_id": "chair-99"}, "chair_id"),
        ({"starts_at": "2027-01-06T11:00:00-05:00", "clinician_id": "dr-nobody"}, "clinician_id"),
        ({"starts_at": "2027-01-06T11:00:00-05:00", "patient_id": "someone-else"}, "patient_id"),
    ],
    ids=["empty", "naive", "off-grid", "past", "beyond-horizon", "unknown-chair", "unknown-clinician", "unknown-field"],
)
def test_a_bad_reschedule_is_422_naming_the_field_and_changes_nothing(client, patient, body, field, snapshot):
    session = booked(client, patient["id"])
    before = snapshot()

    response = client.post(f"/api/sessions/{session['id']}/reschedule", json=body, headers=AUTH)

    assert_field_errors(response, 422, field)
    assert snapshot() == before
    assert client.get(f"/api/sessions/{session['id']}", headers=AUTH).get_json() == session


def test_rescheduling_onto_a_taken_chair_is_409_and_keeps_the_old_time(client, patient, other_patient, snapshot):
    booked(client, other_patient["id"], starts_at="2027-01-06T11:00:00-05:00")
    session = booked(client, patient["id"])
    before = snapshot()

    response = client.post(
        f"/api/sessions/{session['id']}/reschedule",
        json={"starts_at": "2027-01-06T11:00:00-05:00", "chair_id": "chair-1"},
        headers=AUTH,
    )

    assert_refusal(response, "chair_unavailable")
    assert snapshot() == before
    assert client.get(f"/api/sessions/{session['id']}", headers=AUTH).get_json()["starts_at"] == STARTS_AT


def test_rescheduling_an_unknown_session_is_404(client):
    response = client.post(
        "/api/sessions/no-such-session/reschedule", json={"starts_at": "2027-01-06T11:00:00-05:00"}, headers=AUTH
    )

    assert_field_errors(response, 404, "_request")


# --- cancelling --------------------------------------------------------------------------------------------------


def test_cancelling_answers_200_cancelled_and_cancelling_again_is_409_transition_not_allowed(
    client, patient, count_rows
):
    session = booked(client, patient["id"])

    first = client.post(
        f"/api/sessions/{session['id']}/cancel", json={"reason": "patient_unwell", "note": "Flu"}, headers=AUTH
    )

    assert first.status_code == 200
    assert first.get_json()["status"] == "cancelled"
    assert first.get_json()["cancel_reason"] == "patient_unwell"
    assert first.get_json()["cancel_note"] == "Flu"
    assert first.get_json()["late_cancellation"] is False  # five weeks ahead
    assert first.get_json()["cancelled_at"] == "2026-12-01T07:00:00-05:00"
    assert count_rows("outbox") == 2

    second = client.post(f"/api/sessions/{session['id']}/cancel", json={"reason": "other"}, headers=AUTH)

    assert_refusal(second, "transition_not_allowed")
    assert count_rows("outbox") == 2
    assert client.get(f"/api/sessions/{session['id']}", headers=AUTH).get_json()["cancel_reason"] == "patient_unwell"


def test_cancelling_within_24_hours_of_the_start_is_a_late_cancellation(client):
    patient = register(client)
    session = booked(
        client, patient["id"], treatment_type="intake_assessment", starts_at="2026-12-01T10:00:00-05:00", ride_home=None
    )

    response = client.post(f"/api/sessions/{session['id']}/cancel", json={"reason": "patient_request"}, headers=AUTH)

    assert response.status_code == 200
    assert response.get_json()["late_cancellation"] is True


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "reason"),
        ({"reason": None}, "reason"),
        ({"reason": "feeling unwell"}, "reason"),
        ({"reason": 3}, "reason"),
        ({"reason": "other", "note": "line\nbreak"}, "note"),
        ({"reason": "other", "note": "n" * 501}, "note"),
        ({"reason": "other", "refund": True}, "refund"),
    ],
    ids=["empty", "null", "free-text", "number", "note-line-break", "note-too-long", "unknown-field"],
)
def test_a_bad_cancellation_is_422_naming_the_field_and_changes_nothing(client, patient, body, field, snapshot):
    session = booked(client, patient["id"])
    before = snapshot()

    response = client.post(f"/api/sessions/{session['id']}/cancel", json=body, headers=AUTH)

    assert_field_errors(response, 422, field)
    assert snapshot() == before
    assert client.get(f"/api/sessions/{session['id']}", headers=AUTH).get_json()["status"] == "booked"


def test_cancelling_without_a_body_is_415_and_changes_nothing(client, patient, snapshot):
    session = booked(client, patient["id"])
    before = snapshot()

    response = client.post(f"/api/sessions/{session['id']}/cancel", headers=AUTH)

    assert_field_errors(response, 415, "_request")
    assert snapshot() == before


def test_cancelling_an_unknown_session_is_404_and_changes_nothing(client, snapshot):
    before = snapshot()

    response = client.post("/api/sessions/no-such-session/cancel", json={"reason": "other"}, headers=AUTH)

    assert_field_errors(response, 404, "_request")
    assert snapshot() == before


def test_a_cancelled_session_frees_its_chair(client, patient, other_patient):
    session = booked(client, patient["id"])
    client.post(f"/api/sessions/{session['id']}/cancel", json={"reason": "clinic_request"}, headers=AUTH)

    response = book(client, other_patient["id"])

    assert response.status_code == 201
    assert response.get_json()["chair_id"] == "chair-1"


# --- the day of the session --------------------------------------------------------------------------------------


@pytest.fixture
def todays_intake(client) -> dict:
    """An intake assessment today at 09:00, two hours from NOW."""
    patient = register(client)
    return booked(
        client, patient["id"], treatment_type="intake_assessment", starts_at="2026-12-01T09:00:00-05:00", ride_home=None
    )


INTAKE_START = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)  # 09:00 in the clinic, as booked


def test_an_intake_session_runs_through_check_in_treatment_and_discharge_and_completes_the_intake(
    client, clock, todays_intake
):
    sid = todays_intake["id"]

    checked_in = client.post(f"/api/sessions/{sid}/check-in", headers=AUTH)
    clock.now = INTAKE_START
    started = client.post(f"/api/sessions/{sid}/start-treatment", headers=AUTH)
    # An intake assessment has no monitoring after it and no checkpoints: the clinician ends it when it is done.
    clock.now = INTAKE_START + timedelta(minutes=40)
    discharged = client.post(f"/api/sessions/{sid}/discharge", headers=AUTH)

    assert (checked_in.status_code, checked_in.get_json()["status"]) == (200, "checked_in")
    assert checked_in.get_json()["checked_in_at"] == "2026-12-01T07:00:00-05:00"
    assert (started.status_code, started.get_json()["status"]) == (200, "in_treatment")
    assert started.get_json()["checkpoints"] == []
    assert (discharged.status_code, discharged.get_json()["status"]) == (200, "discharged")
    assert discharged.get_json()["discharged_at"] == "2026-12-01T09:40:00-05:00"
    intake = client.get(f"/api/patients/{todays_intake['patient_id']}", headers=AUTH).get_json()["intake"]
    assert intake["session_id"] == sid
    assert book(client, todays_intake["patient_id"]).status_code == 201


def test_checking_in_on_another_day_is_409_not_session_day(client, patient, snapshot):
    session = booked(client, patient["id"])
    before = snapshot()

    response = client.post(f"/api/sessions/{session['id']}/check-in", headers=AUTH)

    assert_refusal(response, "not_session_day")
    assert snapshot() == before


def test_recording_a_no_show_before_the_start_is_409_not_started_yet(client, todays_intake, snapshot):
    before = snapshot()

    response = client.post(f"/api/sessions/{todays_intake['id']}/no-show", headers=AUTH)

    assert_refusal(response, "not_started_yet")
    assert snapshot() == before


@pytest.mark.parametrize("route", ["start-treatment", "discharge"])
def test_a_step_out_of_order_is_409_transition_not_allowed(client, todays_intake, route, snapshot):
    before = snapshot()

    response = client.post(f"/api/sessions/{todays_intake['id']}/{route}", headers=AUTH)

    assert_refusal(response, "transition_not_allowed")
    assert snapshot() == before


@pytest.mark.parametrize(
    "body, field",
    [
        ({"discharged_at": "2026-12-01T10:00:00-05:00"}, "discharged_at"),  # after now (09:30)
        ({"discharged_at": "2026-12-01T08:50:00-05:00"}, "discharged_at"),  # before treatment started (09:00)
        ({"discharged_at": "2026-12-01T09:20:00"}, "discharged_at"),
        ({"discharged_at": "soon"}, "discharged_at"),
        ({"discharged_at": "2026-12-01T09:20:00-05:00", "by": "Dr. Xu"}, "by"),
        ({"override_reason": "ok"}, "override_reason"),
        ({"override_reason": "fit\nto go"}, "override_reason"),
    ],
    ids=["future", "before-treatment", "naive", "not-a-time", "unknown-field", "short-override", "line-break"],
)
def test_a_bad_discharge_is_422_naming_the_field_and_changes_nothing(
    client, clock, todays_intake, body, field, snapshot
):
    sid = todays_intake["id"]
    client.post(f"/api/sessions/{sid}/check-in", headers=AUTH)
    clock.now = INTAKE_START
    assert client.post(f"/api/sessions/{sid}/start-treatment", headers=AUTH).status_code == 200
    clock.now = INTAKE_START + timedelta(minutes=30)
    before = snapshot()

    response = client.post(f"/api/sessions/{sid}/discharge", json=body, headers=AUTH)

    assert_field_errors(response, 422, field)
    assert snapshot() == before
    assert client.get(f"/api/sessions/{sid}", headers=AUTH).get_json()["status"] == "in_treatment"


@pytest.mark.parametrize(
    "route", ["check-in", "start-treatment", "discharge", "no-show", "cancel", "checkpoints/bp_before_dose"]
)
def test_a_lifecycle_step_on_an_unknown_session_is_404(client, route, snapshot):
    before = snapshot()

    body = {"reason": "other"} if route == "cancel" else None
    response = client.post(f"/api/sessions/no-such-session/{route}", json=body, headers=AUTH)

    assert_field_errors(response, 404, "_request")
    assert snapshot() == before


# --- series ------------------------------------------------------------------------------------------------------


def series_body(patient_id: str, /, **overrides) -> dict:
    return {
        "patient_id": patient_id,
        "treatment_type": "iv_infusion",
        "first_starts_at": "2027-01-04T10:00:00-05:00",
        "count": 6,
        "within_days": 21,
        "ride_home": ESCORT,
        **overrides,
    }


def test_a_series_of_six_in_three_weeks_answers_201_with_its_sessions(client, patient, count_rows):
    response = client.post("/api/series", json=series_body(patient["id"]), headers=AUTH)

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert response.headers["Location"] == f"/api/series/{body['id']}"
    assert [s["starts_at"][:10] for s in body["sessions"]] == [
        "2027-01-04",
        "2027-01-08",
        "2027-01-11",
        "2027-01-15",
        "2027-01-18",
        "2027-01-22",
    ]
    assert {s["series_id"] for s in body["sessions"]} == {body["id"]}
    assert count_rows("sessions") == 6
    assert count_rows("series") == 1
    assert client.get(f"/api/series/{body['id']}", headers=AUTH).get_json() == body


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"count": 1}, "count"),
        ({"count": 13}, "count"),
        ({"count": "6"}, "count"),
        ({"count": 6.5}, "count"),
        ({"within_days": 1}, "within_days"),
        ({"within_days": 61}, "within_days"),
        ({"count": 8, "within_days": 5}, "count"),
        ({"first_starts_at": "2027-01-04T10:00:00"}, "first_starts_at"),
        ({"first_starts_at": "2026-11-02T10:00:00-05:00"}, "first_starts_at"),
        ({"first_starts_at": "2026-11-30T10:00:00-05:00"}, "first_starts_at"),  # yesterday: the window straddles now
        ({"first_starts_at": "2027-01-04T10:07:00-05:00"}, "first_starts_at"),  # off the grid
        ({"first_starts_at": "2027-05-03T10:00:00-04:00"}, "first_starts_at"),
        ({"treatment_type": "laughing_gas"}, "treatment_type"),
        ({"patient_id": "nobody"}, "patient_id"),
        ({"ride_home": None}, "ride_home"),
        ({"patient_id": None, "count": None}, "patient_id"),
    ],
    ids=[
        "count-1",
        "count-13",
        "count-string",
        "count-float",
        "within-1",
        "within-61",
        "count-over-days",
        "naive-first",
        "past-first",
        "yesterday-first",
        "off-grid-first",
        "first-beyond-horizon",
        "unknown-treatment",
        "unknown-patient",
        "no-ride",
        "nulls",
    ],
)
def test_a_bad_series_request_is_422_naming_the_field_and_changes_nothing(client, patient, overrides, field, snapshot):
    before = snapshot()

    response = client.post("/api/series", json=series_body(patient["id"], **overrides), headers=AUTH)

    assert_field_errors(response, 422, field)
    assert snapshot() == before


def test_a_series_that_does_not_fit_is_409_with_what_fits_and_alternatives_and_books_nothing(client, patient, snapshot):
    before = snapshot()

    # Saturday then Sunday: the clinic is closed on Sundays.
    response = client.post(
        "/api/series",
        json=series_body(patient["id"], first_starts_at="2026-12-05T10:00:00-05:00", count=2, within_days=2),
        headers=AUTH,
    )

    assert response.status_code == 409, response.get_json()
    body = response.get_json()
    assert body["reason"] == "series_not_placeable"
    assert [slot["starts_at"] for slot in body["placed"]] == ["2026-12-05T10:00:00-05:00"]
    [unplaced] = body["unplaced"]
    assert unplaced["preferred_starts_at"] == "2026-12-06T10:00:00-05:00"
    assert unplaced["alternatives"] and all(alt > "2026-12-07" for alt in unplaced["alternatives"])
    assert snapshot() == before


def test_an_unknown_series_is_404(client):
    assert_field_errors(client.get("/api/series/no-such-series", headers=AUTH), 404, "_request")


# --- calendar entry ----------------------------------------------------------------------------------------------


def test_a_session_downloads_as_an_icalendar_entry_from_arrival_to_pickup(client, patient):
    session = booked(client, patient["id"])

    response = client.get(f"/api/sessions/{session['id']}.ics", headers=AUTH)

    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    text = response.get_data(as_text=True)
    assert "DTSTART;TZID=America/New_York:20270105T084500" in text
    assert "DTEND;TZID=America/New_York:20270105T103000" in text


def test_the_calendar_entry_of_an_unknown_session_is_404(client):
    assert_field_errors(client.get("/api/sessions/no-such-session.ics", headers=AUTH), 404, "_request")


# --- everything else ---------------------------------------------------------------------------------------------


def test_an_unknown_session_is_404(client):
    response = client.get("/api/sessions/no-such-session", headers=AUTH)

    assert_field_errors(response, 404, "_request")


def test_an_unknown_route_answers_json_404(client):
    response = client.get("/api/nothing-here", headers=AUTH)

    assert_field_errors(response, 404, "_request")


def test_a_wrong_method_answers_json_405(client):
    response = client.delete("/api/clinic", headers=AUTH)

    assert_field_errors(response, 405, "_request")


# --- names and the years of instants (issue 8) -------------------------------------------------------------------

INVISIBLE_OR_REORDERED = ["\u200b\u200b", "\u3164", "Ann \u202eeeL", "\u2066Ann\u2069", "1234"]


@pytest.mark.parametrize("name", INVISIBLE_OR_REORDERED)
def test_a_patient_name_without_a_visible_letter_or_with_bidirectional_controls_is_refused(client, name, snapshot):
    before = snapshot()

    response = client.post("/api/patients", json={"name": name, "phone": "+14155550123"}, headers=AUTH)

    assert_field_errors(response, 422, "name")
    assert snapshot() == before


@pytest.mark.parametrize("name", INVISIBLE_OR_REORDERED)
def test_an_escort_name_or_an_assessor_without_a_visible_letter_or_with_bidirectional_controls_is_refused(
    client, patient, name, snapshot
):
    before = snapshot()

    escorted = book(client, patient["id"], ride_home={**ESCORT, "escort_name": name})
    assessed = client.post(
        f"/api/patients/{patient['id']}/intake",
        json={"completed_at": "2026-11-20T10:00:00-05:00", "recorded_by": name},
        headers=AUTH,
    )

    assert "escort_name" in assert_field_errors(escorted, 422, "ride_home")["ride_home"]
    assert_field_errors(assessed, 422, "recorded_by")
    assert snapshot() == before


@pytest.mark.parametrize("name", ["李雷", "Zoë O'Neil-Smith", "محمد", "Ann \u200dLee"])
def test_a_name_with_visible_letters_in_any_script_is_accepted(client, name):
    assert register(client, name=name)["name"] == name


@pytest.mark.parametrize(
    "completed_at", ["2000-01-01T00:00:00+14:00", "0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59-01:00"]
)
def test_an_instant_outside_the_years_2000_to_2999_once_in_utc_is_refused(client, patient, completed_at, snapshot):
    before = snapshot()

    response = client.post(
        f"/api/patients/{patient['id']}/intake",
        json={"completed_at": completed_at, "recorded_by": "Dr. Xu"},
        headers=AUTH,
    )

    assert assert_field_errors(response, 422, "completed_at")["completed_at"] == [
        "Give a time between the years 2000 and 2999 (in UTC)."
    ]
    assert snapshot() == before


# --- the ride home: provider mode, the ride status, the check-in gate ---------------------------------------------

ADDRESS = "12 Elm Street, Apt 4, Jacksonville, FL 32204"
PROVIDER = {"mode": "provider", "dropoff_address": ADDRESS}
TOMORROW = "2026-12-02T09:00:00-05:00"  # Wednesday, 26 hours after NOW
ARRIVAL = datetime(2026, 12, 2, 13, 45, tzinfo=UTC)  # Wednesday 08:45 in New York


def test_the_clinic_shows_its_address_where_every_ride_home_picks_up(client):
    response = client.get("/api/clinic", headers=AUTH)

    assert response.get_json()["address"] == "1200 Riverside Avenue, Suite 300, Jacksonville, FL 32204"


def test_a_provider_ride_home_is_booked_with_its_dropoff_address_shown_on_the_session_only(
    client, patient, database_file
):
    session = booked(client, patient["id"], ride_home={"mode": "provider", "dropoff_address": f"  {ADDRESS} "})

    shown = client.get(f"/api/sessions/{session['id']}", headers=AUTH).get_json()
    assert (
        session["ride_home"]
        == shown["ride_home"]
        == {
            "mode": "provider",
            "dropoff_address": ADDRESS,
            "escort_name": None,
            "escort_phone": None,
        }
    )
    engine = create_engine(f"sqlite:///{database_file}")
    with engine.connect() as connection:
        [body] = connection.exec_driver_sql("SELECT body FROM outbox").scalars().all()
    engine.dispose()
    assert json.loads(body)["data"]["ride_home_mode"] == "provider"
    assert "Elm" not in body and "32204" not in body


def test_a_series_with_a_provider_ride_home_gives_every_session_the_address(client, patient):
    response = client.post("/api/series", json=series_body(patient["id"], count=2, ride_home=PROVIDER), headers=AUTH)

    assert response.status_code == 201, response.get_json()
    assert [s["ride_home"]["dropoff_address"] for s in response.get_json()["sessions"]] == [ADDRESS, ADDRESS]


@pytest.mark.parametrize(
    "ride_home, field",
    [
        ({"mode": "provider"}, "dropoff_address"),
        ({"mode": "provider", "dropoff_address": None}, "dropoff_address"),
        ({"mode": "provider", "dropoff_address": "12 E"}, "dropoff_address"),
        ({"mode": "provider", "dropoff_address": "x" * 301}, "dropoff_address"),
        ({"mode": "provider", "dropoff_address": "12 Elm Street\nApt 4"}, "dropoff_address"),
        ({"mode": "provider", "dropoff_address": "12 Elm\x00 Street"}, "dropoff_address"),
        ({"mode": "provider", "dropoff_address": "      "}, "dropoff_address"),
        ({"mode": "provider", "dropoff_address": 12}, "dropoff_address"),
        ({**PROVIDER, "escort_name": "Bo Lee"}, "escort_name"),
        ({**PROVIDER, "escort_phone": "+14155550124"}, "escort_phone"),
        ({**ESCORT, "dropoff_address": ADDRESS}, "dropoff_address"),
        ({"mode": "escort", "dropoff_address": ADDRESS}, "escort_name"),
        ({"mode": "taxi", "dropoff_address": ADDRESS}, "mode"),
        ({"dropoff_address": ADDRESS}, "mode"),
        ({**PROVIDER, "pickup_address": "Elsewhere 1"}, "pickup_address"),
    ],
    ids=[
        "no-address",
        "null-address",
        "too-short",
        "too-long",
        "line-break",
        "NUL",
        "blank",
        "not-text",
        "escort-name-in-provider-mode",
        "escort-phone-in-provider-mode",
        "address-in-escort-mode",
        "escort-mode-with-only-an-address",
        "unknown-mode",
        "no-mode",
        "unknown-field",
    ],
)
def test_a_ride_home_that_does_not_fit_its_mode_is_422_naming_the_field_and_books_nothing(
    client, patient, snapshot, ride_home, field
):
    before = snapshot()

    sessions = book(client, patient["id"], ride_home=ride_home)
    series = client.post("/api/series", json=series_body(patient["id"], ride_home=ride_home), headers=AUTH)

    for response in (sessions, series):
        errors = assert_field_errors(response, 422, "ride_home")
        assert field in errors["ride_home"], errors
    assert snapshot() == before


def test_a_field_of_the_other_mode_is_named_as_belonging_to_it(client, patient):
    response = book(client, patient["id"], ride_home={**PROVIDER, "escort_name": "Bo Lee"})

    assert response.get_json()["errors"]["ride_home"] == {"escort_name": ["Only with mode escort."]}


@pytest.fixture
def tomorrows_infusion(client, patient) -> dict:
    """An infusion with an escort tomorrow at 09:00: booked today, checked in once the clock is set to ARRIVAL."""
    return booked(client, patient["id"], starts_at=TOMORROW)


def check_in(client, session_id: str, body=None):
    return client.post(f"/api/sessions/{session_id}/check-in", json=body, headers=AUTH)


def test_a_session_shows_no_ride_status_until_transport_reports_one(client, tomorrows_infusion, todays_intake):
    assert tomorrows_infusion["ride_status"] is None and tomorrows_infusion["ride_status_at"] is None
    assert todays_intake["ride_status"] is None
    assert tomorrows_infusion["check_in_override_reason"] is None


@pytest.mark.parametrize("reported", [None, "ride.requested", "ride.declined", "ride.at_risk", "ride.cancelled"])
def test_checking_in_while_the_ride_home_is_not_confirmed_is_409_ride_not_confirmed_and_changes_nothing(
    runtime, client, clock, tomorrows_infusion, snapshot, reported
):
    if reported:
        report_ride(runtime, tomorrows_infusion["id"], reported, at_risk="2h" if reported == "ride.at_risk" else None)
    clock.now = ARRIVAL
    before = snapshot()

    response = check_in(client, tomorrows_infusion["id"])

    assert_refusal(response, "ride_not_confirmed")
    assert snapshot() == before
    assert client.get(f"/api/sessions/{tomorrows_infusion['id']}", headers=AUTH).get_json()["status"] == "booked"


def test_a_ride_confirmed_by_transport_is_shown_on_the_session_and_lets_the_patient_check_in(
    runtime, client, clock, tomorrows_infusion
):
    sid = tomorrows_infusion["id"]
    report_ride(runtime, sid, "ride.requested", occurred_at=datetime(2026, 12, 1, 12, 1, tzinfo=UTC))
    report_ride(runtime, sid, "ride.confirmed", occurred_at=datetime(2026, 12, 1, 18, 30, tzinfo=UTC))
    clock.now = ARRIVAL

    shown = client.get(f"/api/sessions/{sid}", headers=AUTH).get_json()
    response = check_in(client, sid)

    assert (shown["ride_status"], shown["ride_status_at"]) == ("confirmed", "2026-12-01T13:30:00-05:00")
    assert (response.status_code, response.get_json()["status"]) == (200, "checked_in")
    assert response.get_json()["check_in_override_reason"] is None


def test_a_ride_event_that_arrives_after_a_newer_one_does_not_undo_the_confirmation(
    runtime, client, clock, tomorrows_infusion
):
    sid = tomorrows_infusion["id"]
    report_ride(runtime, sid, "ride.confirmed", occurred_at=datetime(2026, 12, 1, 18, 30, tzinfo=UTC))
    report_ride(runtime, sid, "ride.at_risk", occurred_at=datetime(2026, 12, 1, 14, 0, tzinfo=UTC), at_risk="24h")
    clock.now = ARRIVAL

    assert client.get(f"/api/sessions/{sid}", headers=AUTH).get_json()["ride_status"] == "confirmed"
    assert check_in(client, sid).status_code == 200


def test_an_override_reason_checks_the_patient_in_without_a_confirmed_ride_and_is_shown_on_the_session(
    runtime, client, clock, tomorrows_infusion
):
    report_ride(runtime, tomorrows_infusion["id"], "ride.declined")
    clock.now = ARRIVAL

    response = check_in(client, tomorrows_infusion["id"], {"override_reason": "  Sister confirmed pickup by phone "})

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["status"], body["ride_status"]) == ("checked_in", "declined")
    assert body["check_in_override_reason"] == "Sister confirmed pickup by phone"
    assert client.get(f"/api/sessions/{body['id']}", headers=AUTH).get_json() == body


@pytest.mark.parametrize(
    "body, field",
    [
        ({"override_reason": "ok"}, "override_reason"),
        ({"override_reason": "x" * 301}, "override_reason"),
        ({"override_reason": "taxi\nbooked"}, "override_reason"),
        ({"override_reason": "   "}, "override_reason"),
        ({"override_reason": 42}, "override_reason"),
        ({"override_reason": "taxi booked", "by": "Dr. Xu"}, "by"),
    ],
    ids=["too-short", "too-long", "line-break", "blank", "not-text", "unknown-field"],
)
def test_a_bad_override_reason_is_422_naming_the_field_and_changes_nothing(
    client, clock, tomorrows_infusion, snapshot, body, field
):
    clock.now = ARRIVAL
    before = snapshot()

    response = check_in(client, tomorrows_infusion["id"], body)

    assert_field_errors(response, 422, field)
    assert snapshot() == before


def test_a_treatment_that_needs_no_ride_checks_in_and_an_override_reason_given_anyway_is_not_recorded(
    client, todays_intake
):
    response = check_in(client, todays_intake["id"], {"override_reason": "Walked in"})

    assert (response.status_code, response.get_json()["status"]) == (200, "checked_in")
    assert response.get_json()["check_in_override_reason"] is None


def test_healthz_says_whether_the_scheduler_consumes_ride_events(client):
    assert client.get("/healthz").get_json()["consuming"] is False  # nothing started in these tests


# --- the treatment day's safety gates: the earliest start, checkpoints, the discharge gate -----------------------

NINE = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)  # Wednesday 09:00 in New York: tomorrow's infusion as booked


def post(client, session_id: str, step: str, body=None):
    return client.post(f"/api/sessions/{session_id}/{step}", json=body, headers=AUTH)


def outbox_rows(database_file) -> list[tuple[str, str]]:
    engine = create_engine(f"sqlite:///{database_file}")
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT routing_key, body FROM outbox").all()
    engine.dispose()
    return [(key, body) for key, body in rows]


@pytest.fixture
def arrived_infusion(runtime, client, clock, tomorrows_infusion) -> str:
    """Tomorrow's infusion, its ride confirmed, checked in at 08:45."""
    report_ride(runtime, tomorrows_infusion["id"], "ride.confirmed")
    clock.now = ARRIVAL
    assert check_in(client, tomorrows_infusion["id"]).status_code == 200
    return tomorrows_infusion["id"]


def test_a_session_shows_its_checkpoints_with_due_times_and_statuses_and_its_earliest_discharge(
    client, clock, arrived_infusion
):
    shown = client.get(f"/api/sessions/{arrived_infusion}", headers=AUTH).get_json()

    assert shown["checkpoints"] == [
        {
            "id": "vitals_before_infusion",
            "label": "Vital signs before the infusion",
            "due_at": "2026-12-02T09:00:00-05:00",
            "status": "pending",
            "done_at": None,
            "done_by": None,
        },
        {
            "id": "vitals_end_of_infusion",
            "label": "Vital signs at the end of the infusion",
            "due_at": "2026-12-02T09:45:00-05:00",
            "status": "pending",
            "done_at": None,
            "done_by": None,
        },
        {
            "id": "vitals_before_discharge",
            "label": "Vital signs before discharge",
            "due_at": "2026-12-02T10:30:00-05:00",
            "status": "pending",
            "done_at": None,
            "done_by": None,
        },
    ]
    assert shown["earliest_discharge_at"] == "2026-12-02T10:30:00-05:00"
    assert shown["booked_starts_at"] is None
    assert shown["start_override_reason"] is None and shown["discharge_override_reason"] is None
    clock.now = NINE + timedelta(minutes=11)
    later = client.get(f"/api/sessions/{arrived_infusion}", headers=AUTH).get_json()["checkpoints"]
    assert [c["status"] for c in later] == ["overdue", "pending", "pending"]


def test_starting_treatment_more_than_30_minutes_before_the_booked_start_is_409_and_changes_nothing(
    client, clock, arrived_infusion, snapshot
):
    clock.now = NINE - timedelta(minutes=35)
    assert post(client, arrived_infusion, "checkpoints/vitals_before_infusion").status_code == 200
    before = snapshot()

    body = assert_refusal(post(client, arrived_infusion, "start-treatment"), "too_early_to_start")

    assert "08:30" in body["message"]
    assert snapshot() == before


def test_starting_treatment_with_the_checkpoint_before_it_open_is_409_checkpoint_open_and_changes_nothing(
    client, clock, arrived_infusion, snapshot
):
    clock.now = NINE
    before = snapshot()

    body = assert_refusal(post(client, arrived_infusion, "start-treatment"), "checkpoint_open")

    assert "Vital signs before the infusion" in body["message"]
    assert snapshot() == before


def test_an_early_start_moves_the_times_the_pickup_follows_and_the_event_carries_them(
    client, clock, arrived_infusion, database_file
):
    clock.now = NINE - timedelta(minutes=20)
    marked = post(client, arrived_infusion, "checkpoints/vitals_before_infusion")
    clock.now = NINE - timedelta(minutes=10)

    started = post(client, arrived_infusion, "start-treatment")

    assert marked.status_code == 200 and marked.get_json()["checkpoints"][0]["status"] == "done"
    assert marked.get_json()["checkpoints"][0]["done_by"] == "service"
    assert started.status_code == 200, started.get_json()
    body = started.get_json()
    assert (body["booked_starts_at"], body["starts_at"]) == ("2026-12-02T09:00:00-05:00", "2026-12-02T08:50:00-05:00")
    assert body["treatment_started_at"] == "2026-12-02T08:50:00-05:00"
    assert body["treatment_ends_at"] == "2026-12-02T09:35:00-05:00"
    assert body["recovery_ends_at"] == body["earliest_discharge_at"] == "2026-12-02T10:20:00-05:00"
    assert body["chair_free_at"] == "2026-12-02T10:35:00-05:00"
    [started_event] = [
        json.loads(body) for key, body in outbox_rows(database_file) if key == "session.treatment_started"
    ]
    assert datetime.fromisoformat(started_event["data"]["recovery_ends_at"]) == datetime(
        2026, 12, 2, 15, 20, tzinfo=UTC
    )


def test_discharge_before_monitoring_is_over_is_409_naming_what_is_missing_and_changes_nothing(
    client, clock, arrived_infusion, snapshot
):
    clock.now = NINE
    post(client, arrived_infusion, "checkpoints/vitals_before_infusion")
    post(client, arrived_infusion, "start-treatment")
    clock.now = NINE + timedelta(minutes=60)
    before = snapshot()

    body = assert_refusal(post(client, arrived_infusion, "discharge"), "monitoring_not_complete")

    assert "10:30" in body["message"] and "Vital signs at the end of the infusion" in body["message"]
    assert snapshot() == before


def test_discharge_with_a_checkpoint_open_is_409_checkpoint_open_and_changes_nothing(
    client, clock, arrived_infusion, snapshot
):
    clock.now = NINE
    post(client, arrived_infusion, "checkpoints/vitals_before_infusion")
    post(client, arrived_infusion, "start-treatment")
    clock.now = NINE + timedelta(minutes=45)
    post(client, arrived_infusion, "checkpoints/vitals_end_of_infusion")
    clock.now = NINE + timedelta(minutes=95)
    before = snapshot()

    body = assert_refusal(post(client, arrived_infusion, "discharge"), "checkpoint_open")

    assert "Vital signs before discharge" in body["message"]
    assert snapshot() == before


def test_with_every_checkpoint_done_and_monitoring_over_the_patient_is_discharged(client, clock, arrived_infusion):
    clock.now = NINE
    post(client, arrived_infusion, "checkpoints/vitals_before_infusion")
    post(client, arrived_infusion, "start-treatment")
    clock.now = NINE + timedelta(minutes=45)
    post(client, arrived_infusion, "checkpoints/vitals_end_of_infusion")
    clock.now = NINE + timedelta(minutes=88)
    post(client, arrived_infusion, "checkpoints/vitals_before_discharge")
    clock.now = NINE + timedelta(minutes=90)

    response = post(client, arrived_infusion, "discharge")

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "discharged" and body["discharge_override_reason"] is None
    assert [c["status"] for c in body["checkpoints"]] == ["done", "done", "done"]
    assert [c["done_at"] for c in body["checkpoints"]] == [
        "2026-12-02T09:00:00-05:00",
        "2026-12-02T09:45:00-05:00",
        "2026-12-02T10:28:00-05:00",
    ]


def test_an_override_reason_discharges_early_and_is_shown_on_the_session_but_not_in_the_outbox(
    client, clock, arrived_infusion, database_file
):
    clock.now = NINE
    post(client, arrived_infusion, "start-treatment", {"override_reason": "Vitals taken at check-in"})
    clock.now = NINE + timedelta(minutes=50)

    response = post(client, arrived_infusion, "discharge", {"override_reason": " Patient fit, family waiting "})

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["start_override_reason"] == "Vitals taken at check-in"
    assert body["discharge_override_reason"] == "Patient fit, family waiting"
    assert [c["status"] for c in body["checkpoints"]] == ["skipped", "skipped", "skipped"]
    assert client.get(f"/api/sessions/{arrived_infusion}", headers=AUTH).get_json() == body
    outbox = " ".join(body for _, body in outbox_rows(database_file))
    assert "session.discharged" in outbox
    assert "Vitals taken" not in outbox and "family" not in outbox


@pytest.mark.parametrize(
    "checkpoint, minutes, reason",
    [
        ("vitals_end_of_infusion", 30, "checkpoint_not_due"),
        ("vitals_before_infusion", 40, "checkpoint_not_now"),
        ("vitals_end_of_infusion", None, "checkpoint_not_now"),
    ],
    ids=["too-early", "before-treatment-after-the-start", "timed-before-the-start"],
)
def test_a_checkpoint_marked_out_of_its_time_is_409_and_changes_nothing(
    client, clock, arrived_infusion, snapshot, checkpoint, minutes, reason
):
    clock.now = NINE
    if minutes is not None:
        post(client, arrived_infusion, "start-treatment", {"override_reason": "Vitals taken at check-in"})
        clock.now = NINE + timedelta(minutes=minutes)
    before = snapshot()

    assert_refusal(post(client, arrived_infusion, f"checkpoints/{checkpoint}"), reason)
    assert snapshot() == before


def test_a_checkpoint_marked_twice_is_409_checkpoint_already_done(client, clock, arrived_infusion):
    clock.now = NINE - timedelta(minutes=5)
    assert post(client, arrived_infusion, "checkpoints/vitals_before_infusion").status_code == 200

    assert_refusal(post(client, arrived_infusion, "checkpoints/vitals_before_infusion"), "checkpoint_already_done")


@pytest.mark.parametrize("checkpoint", ["bp_40_min", "no-such-checkpoint"])
def test_a_checkpoint_the_sessions_treatment_does_not_have_is_404_and_changes_nothing(
    client, arrived_infusion, snapshot, checkpoint
):
    before = snapshot()

    assert_field_errors(post(client, arrived_infusion, f"checkpoints/{checkpoint}"), 404, "_request")
    assert snapshot() == before


@pytest.mark.parametrize(
    "body",
    [{"override_reason": "ok"}, {"override_reason": "x" * 301}, {"override_reason": 7}, {"reason": "taken"}],
    ids=["too-short", "too-long", "not-text", "unknown-field"],
)
def test_a_bad_start_treatment_body_is_422_naming_the_field_and_changes_nothing(
    client, clock, arrived_infusion, snapshot, body
):
    clock.now = NINE
    before = snapshot()

    response = post(client, arrived_infusion, "start-treatment", body)

    assert_field_errors(response, 422, next(iter(body)))
    assert snapshot() == before
