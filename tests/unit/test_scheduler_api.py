"""The scheduler's HTTP API: the real app on a SQLite file, through Flask's test client (nothing is started)."""
import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, func, select, table

from services.scheduler.adapters.clinic_config import load_clinic
from services.scheduler.bootstrap import bootstrap
from shared.settings import Settings

TOKEN = "unit-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
ESCORT = {"mode": "escort", "escort_name": "Bo Lee", "escort_phone": "+14155550124"}


@pytest.fixture
def database_file(tmp_path):
    return tmp_path / "scheduler.sqlite3"


@pytest.fixture
def client(database_file, monkeypatch):
    monkeypatch.delenv("CLINIC_CONFIG", raising=False)
    runtime = bootstrap(
        Settings(
            service="scheduler",
            broker_url="memory://",
            database_url=f"sqlite:///{database_file}",
            port=0,
            service_token=TOKEN,
            scheduler_url="http://127.0.0.1:0",
        ),
        clinic=load_clinic(),
        clock=lambda: NOW,
    )
    return runtime.app.test_client()


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
    return lambda: {name: count_rows(name) for name in ("patients", "sessions", "outbox")}


def register(client, **overrides) -> dict:
    body = {"name": "Ann Lee", "phone": "+14155550123", "preferred_channel": "sms", **overrides}
    response = client.post("/api/patients", json=body, headers=AUTH)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def book(client, patient_id: str, **overrides):
    body = {
        "patient_id": patient_id,
        "treatment_type": "iv_infusion",
        "starts_at": "2027-01-05T09:00:00-05:00",
        "chair_id": "chair-1",
        "ride_home": ESCORT,
        **overrides,
    }
    return client.post("/api/sessions", json=body, headers=AUTH)


@pytest.fixture
def patient(client) -> dict:
    return register(client)


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
    assert body["reason"] == reason
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
    book(client, patient["id"])

    assert client.get("/healthz").get_json()["outbox_pending"] == 1


# --- the clinic --------------------------------------------------------------------------------------------------


def test_the_clinic_lists_its_chairs_and_treatment_types(client):
    response = client.get("/api/clinic", headers=AUTH)

    assert response.status_code == 200
    body = response.get_json()
    assert body["time_zone"] == "America/New_York"
    assert body["chairs"] == ["chair-1", "chair-2", "chair-3", "chair-4"]
    types = {t["id"]: t for t in body["treatment_types"]}
    assert set(types) == {"iv_infusion", "esketamine_nasal_spray", "intake_assessment"}
    assert types["esketamine_nasal_spray"]["treatment_minutes"] == 15
    assert types["esketamine_nasal_spray"]["recovery_minutes"] == 120
    assert types["intake_assessment"]["ride_home_required"] is False


# --- patients ----------------------------------------------------------------------------------------------------


def test_registering_a_patient_answers_201_with_its_id(client, count_rows):
    response = client.post(
        "/api/patients", json={"name": "Ann Lee", "phone": "+1 415 555 0123", "email": "ann@example.org"}, headers=AUTH
    )

    assert response.status_code == 201
    body = response.get_json()
    assert body["id"]
    assert response.headers["Location"] == f"/api/patients/{body['id']}"
    assert body["phone"] == "+14155550123"
    assert body["preferred_channel"] == "sms"
    assert count_rows("patients") == 1
    assert client.get(f"/api/patients/{body['id']}", headers=AUTH).get_json() == body


@pytest.mark.parametrize("phone", ["4155550123", "+1415", "call me", "+999123456789"])
def test_a_phone_not_in_e164_form_is_refused_with_errors_on_phone(client, phone, snapshot):
    before = snapshot()

    response = client.post("/api/patients", json={"name": "Ann Lee", "phone": phone}, headers=AUTH)

    errors = assert_field_errors(response, 422, "phone")
    assert "E.164" in errors["phone"][0]
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


# --- booking -----------------------------------------------------------------------------------------------------


def test_booking_answers_201_with_the_times_in_the_clinics_offset(client, patient, count_rows):
    response = book(client, patient["id"], starts_at="2027-01-05T14:00:00Z")

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "booked"
    assert body["patient_id"] == patient["id"]
    assert body["chair_id"] == "chair-1"
    assert body["starts_at"] == "2027-01-05T09:00:00-05:00"
    assert body["treatment_ends_at"] == "2027-01-05T09:45:00-05:00"
    assert body["recovery_ends_at"] == "2027-01-05T10:30:00-05:00"
    assert body["ride_home"] == ESCORT
    assert response.headers["Location"] == f"/api/sessions/{body['id']}"
    assert count_rows("sessions") == 1
    assert count_rows("outbox") == 1


def test_a_booked_session_reads_back_the_same(client, patient):
    booked = book(client, patient["id"]).get_json()

    response = client.get(f"/api/sessions/{booked['id']}", headers=AUTH)

    assert response.status_code == 200
    assert response.get_json() == booked


def test_the_outbox_row_is_the_session_booked_event_without_personal_details(client, patient, database_file):
    booked = book(client, patient["id"]).get_json()
    engine = create_engine(f"sqlite:///{database_file}")
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT routing_key, correlation_id, body FROM outbox").all()
    engine.dispose()

    [(routing_key, correlation_id, body)] = rows
    assert (routing_key, correlation_id) == ("session.booked", booked["id"])
    document = json.loads(body)
    assert document["producer"] == "scheduler"
    assert document["data"]["session_id"] == booked["id"]
    assert document["data"]["starts_at"].startswith("2027-01-05T14:00:00")
    for detail in ("Ann Lee", "+14155550123", "Bo Lee", "+14155550124"):
        assert detail not in body


def test_a_naive_starts_at_is_refused_with_errors_on_starts_at(client, patient, snapshot):
    before = snapshot()

    response = book(client, patient["id"], starts_at="2027-01-05T09:00:00")

    errors = assert_field_errors(response, 422, "starts_at")
    assert "offset" in errors["starts_at"][0]
    assert snapshot() == before


def test_a_start_in_the_past_is_refused_with_errors_on_starts_at(client, patient, snapshot):
    before = snapshot()

    response = book(client, patient["id"], starts_at="2026-11-30T09:00:00-05:00")

    assert_field_errors(response, 422, "starts_at")
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


def test_an_intake_is_booked_without_a_ride_home(client, patient):
    response = book(client, patient["id"], treatment_type="intake_assessment", ride_home=None)

    assert response.status_code == 201
    assert response.get_json()["ride_home"]["mode"] == "none"
    assert response.get_json()["recovery_ends_at"] == "2027-01-05T10:00:00-05:00"


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


def test_an_unknown_field_is_refused_with_422_naming_it(client, patient, snapshot):
    before = snapshot()

    response = book(client, patient["id"], discount="50%")

    assert_field_errors(response, 422, "discount")
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


def test_invalid_json_is_400(client, snapshot):
    before = snapshot()

    response = client.post("/api/sessions", data="{not json", headers={**AUTH, "Content-Type": "application/json"})

    assert_field_errors(response, 400, "_request")
    assert snapshot() == before


def test_a_body_over_64_kib_is_413(client, snapshot):
    before = snapshot()
    big = json.dumps({"name": "A" * (65 * 1024), "phone": "+14155550123"})

    response = client.post("/api/patients", data=big, headers={**AUTH, "Content-Type": "application/json"})

    assert_field_errors(response, 413, "_request")
    assert snapshot() == before


def test_a_json_array_body_is_422(client, patient, snapshot):
    before = snapshot()

    response = client.post("/api/sessions", json=[{"patient_id": patient["id"]}], headers=AUTH)

    assert_field_errors(response, 422, "_schema")
    assert snapshot() == before


def test_an_overlapping_booking_of_the_same_chair_is_409_chair_unavailable_and_changes_nothing(client, patient, snapshot):
    assert book(client, patient["id"]).status_code == 201
    before = snapshot()

    # 10:00 local is still within the first session's recovery (until 10:30).
    response = book(client, patient["id"], starts_at="2027-01-05T10:00:00-05:00")

    body = assert_refusal(response, "chair_unavailable")
    assert "chair-1" in body["message"]
    assert snapshot() == before


def test_a_booking_starting_when_the_previous_recovery_ends_is_accepted(client, patient):
    assert book(client, patient["id"]).status_code == 201

    response = book(client, patient["id"], starts_at="2027-01-05T10:30:00-05:00")

    assert response.status_code == 201
    assert response.get_json()["chair_id"] == "chair-1"


def test_without_a_chair_the_api_picks_a_free_one(client, patient):
    first = book(client, patient["id"]).get_json()

    second = book(client, patient["id"], chair_id=None)

    assert second.status_code == 201
    assert second.get_json()["chair_id"] != first["chair_id"]


# --- sessions: reading and cancelling ----------------------------------------------------------------------------


def test_an_unknown_session_is_404(client):
    response = client.get("/api/sessions/no-such-session", headers=AUTH)

    assert_field_errors(response, 404, "_request")


def test_cancelling_answers_200_cancelled_and_cancelling_again_is_409_not_cancellable(client, patient, count_rows):
    session = book(client, patient["id"]).get_json()

    first = client.post(f"/api/sessions/{session['id']}/cancel", json={"reason": "feeling unwell"}, headers=AUTH)

    assert first.status_code == 200
    assert first.get_json()["status"] == "cancelled"
    assert first.get_json()["cancel_reason"] == "feeling unwell"
    assert first.get_json()["cancelled_at"] == "2026-12-01T07:00:00-05:00"
    assert count_rows("outbox") == 2

    second = client.post(f"/api/sessions/{session['id']}/cancel", headers=AUTH)

    assert_refusal(second, "not_cancellable")
    assert count_rows("outbox") == 2
    assert client.get(f"/api/sessions/{session['id']}", headers=AUTH).get_json()["cancel_reason"] == "feeling unwell"


def test_cancelling_without_a_body_is_accepted(client, patient):
    session = book(client, patient["id"]).get_json()

    response = client.post(f"/api/sessions/{session['id']}/cancel", headers=AUTH)

    assert response.status_code == 200
    assert response.get_json()["cancel_reason"] is None


def test_cancelling_an_unknown_session_is_404_and_changes_nothing(client, snapshot):
    before = snapshot()

    response = client.post("/api/sessions/no-such-session/cancel", headers=AUTH)

    assert_field_errors(response, 404, "_request")
    assert snapshot() == before


def test_a_cancelled_session_frees_its_chair(client, patient):
    session = book(client, patient["id"]).get_json()
    client.post(f"/api/sessions/{session['id']}/cancel", headers=AUTH)

    response = book(client, patient["id"])

    assert response.status_code == 201
    assert response.get_json()["chair_id"] == "chair-1"


def test_an_unknown_route_answers_json_404(client):
    response = client.get("/api/nothing-here", headers=AUTH)

    assert_field_errors(response, 404, "_request")


def test_a_wrong_method_answers_json_405(client):
    response = client.delete("/api/clinic", headers=AUTH)

    assert_field_errors(response, 405, "_request")


def test_a_start_too_far_in_the_future_to_hold_its_recovery_is_refused_with_422_not_500(client, patient, snapshot):
    before = snapshot()

    # The last hour of year 9999: its treatment and recovery would end past the largest date Python can hold.
    response = book(client, patient["id"], starts_at="9999-12-31T23:00:00+00:00")

    assert_field_errors(response, 422, "starts_at")
    assert snapshot() == before
