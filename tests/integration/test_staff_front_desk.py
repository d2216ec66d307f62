"""Staff accounts, sign-in and the audit trail on SQLite and on PostgreSQL: the real scheduler app (memory:// broker,
a clock the test sets) through Flask's test client, checked against what lands in the database.

Accounts are made by the create-user command, as an admin would make them.
"""

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text

from services.scheduler.adapters.audit import SqlAuditLog
from services.scheduler.adapters.clinic_config import load_clinic
from services.scheduler.bootstrap import MIGRATIONS, bootstrap
from services.scheduler.cli import run_command
from services.scheduler.web import FrontDeskSettings
from services.scheduler.web.access import API_PERMISSIONS
from shared.persistence.engine import create_database_engine
from shared.settings import Settings

pytestmark = pytest.mark.integration

TOKEN = "staff-front-desk-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # Tuesday 07:00 in the clinic
PASSWORD = "correct horse battery staple"
ESCORT = {"mode": "escort", "escort_name": "Bo Lee", "escort_phone": "+14155550124"}
STARTS_AT = "2027-01-05T09:00:00-05:00"
CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def settings(database_url: str) -> Settings:
    return Settings(
        service="scheduler",
        broker_url="memory://",
        database_url=database_url,
        port=0,
        service_token=TOKEN,
        scheduler_url="http://127.0.0.1:1",
    )


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def runtime(database_url, clock, monkeypatch):
    monkeypatch.delenv("CLINIC_CONFIG", raising=False)
    return bootstrap(
        settings(database_url),
        clinic=load_clinic(),
        clock=clock,
        front_desk=FrontDeskSettings(secret_key="staff-front-desk-secret"),
    )


@pytest.fixture
def database(database_url, runtime):
    engine = create_database_engine(database_url, schema="scheduler")
    yield engine
    engine.dispose()


@pytest.fixture
def accounts(database_url, runtime):
    """Makes an account through the command an admin uses."""

    def create(username: str, role: str) -> None:
        argv = ["create-user", username, "--role", role, "--password-stdin"]
        code = run_command(
            argv, stdin=io.StringIO(PASSWORD + "\n"), stdout=io.StringIO(), settings=settings(database_url)
        )
        assert code == 0

    return create


@pytest.fixture
def client(runtime):
    return runtime.app.test_client()


def csrf_token(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "the page has a form with a CSRF token"
    return match.group(1)


def sign_in(client, username: str, password: str = PASSWORD, next_url: str | None = None):
    page = client.get("/sign-in")
    form = {"csrf_token": csrf_token(page.text), "username": username, "password": password}
    return client.post("/sign-in" + (f"?next={next_url}" if next_url else ""), data=form)


def rows(engine, sql: str, **params) -> list:
    with engine.connect() as connection:
        return list(connection.execute(text(sql), params))


def register_patient_with_intake(client, headers=AUTH) -> str:
    patient = client.post(
        "/api/patients",
        json={"name": "Ann Lee", "phone": "+14155550123", "preferred_channel": "sms"},
        headers=headers,
    ).get_json()
    intake = {"completed_at": "2026-11-20T10:00:00-05:00", "recorded_by": "Dr. Patel"}
    assert client.post(f"/api/patients/{patient['id']}/intake", json=intake, headers=headers).status_code == 201
    return patient["id"]


def booking(patient_id: str) -> dict:
    return {"patient_id": patient_id, "treatment_type": "iv_infusion", "starts_at": STARTS_AT, "ride_home": ESCORT}


def migrate(engine, revision: str, *, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def tables(engine) -> set[str]:
    return set(inspect(engine).get_table_names(schema="scheduler" if engine.dialect.name == "postgresql" else None))


def test_the_staff_migration_adds_accounts_and_the_audit_trail_and_can_be_undone(database):
    assert {"staff_accounts", "audit_entries"} <= tables(database)

    migrate(database, "0004", down=True)
    assert not {"staff_accounts", "audit_entries"} & tables(database)
    assert {"patients", "sessions"} <= tables(database)

    migrate(database, "head")
    assert {"staff_accounts", "audit_entries"} <= tables(database)


def test_a_staff_member_signs_in_and_sees_the_board_with_their_name_and_role(client, accounts, database):
    accounts("desk.ann", "front_desk")

    answer = sign_in(client, "desk.ann", next_url="/")
    board = client.get("/")

    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    assert board.status_code == 200
    assert "<h1>Board</h1>" in board.text
    assert "desk.ann" in board.text and "front desk" in board.text
    assert ">Sign out</button>" in board.text
    assert ">Audit<" not in board.text, "the audit is for admins"
    [(actor, action)] = rows(database, "SELECT actor_name, action FROM audit_entries")
    assert (actor, action) == ("desk.ann", "sign_in")
    assert PASSWORD not in str(rows(database, "SELECT * FROM audit_entries"))
    assert PASSWORD not in str(rows(database, "SELECT * FROM staff_accounts")), "only its hash is stored"


def test_a_page_asked_for_before_signing_in_is_shown_once_signed_in(client, accounts):
    accounts("admin.bo", "admin")

    asked = client.get("/audit?day=2026-12-01")
    answer = sign_in(client, "admin.bo", next_url="/audit?day=2026-12-01")

    assert asked.status_code == 302
    assert asked.headers["Location"] == "/sign-in?next=/audit?day%3D2026-12-01"
    assert answer.headers["Location"] == "/audit?day=2026-12-01"


def test_a_next_address_off_this_site_is_not_followed_after_signing_in(client, accounts):
    accounts("desk.ann", "front_desk")

    answer = sign_in(client, "desk.ann", next_url="//evil.example/phish")

    assert answer.headers["Location"] == "/"


def test_a_wrong_password_is_refused_with_a_message_and_recorded_by_username_only(client, accounts, database):
    accounts("desk.ann", "front_desk")

    answer = sign_in(client, "desk.ann", "not the password at all")

    assert answer.status_code == 422
    assert "The username or password is not right." in answer.text
    assert client.get("/").status_code == 302, "still signed out"
    [(actor, action)] = rows(database, "SELECT actor_name, action FROM audit_entries")
    assert (actor, action) == ("desk.ann", "sign_in_failed")
    assert "not the password" not in str(rows(database, "SELECT * FROM audit_entries"))


def test_an_unknown_username_is_refused_like_a_wrong_password(client, accounts, database):
    accounts("desk.ann", "front_desk")

    answer = sign_in(client, "nobody.here")

    assert answer.status_code == 422
    assert "The username or password is not right." in answer.text
    assert rows(database, "SELECT actor_id, actor_name, action FROM audit_entries") == [
        (None, "nobody.here", "sign_in_failed")
    ]


def test_five_failed_sign_ins_lock_the_account_even_against_the_right_password_until_the_lock_ends(
    client, accounts, database, clock
):
    accounts("desk.ann", "front_desk")

    for _ in range(5):
        sign_in(client, "desk.ann", "wrong password, again")
    locked = sign_in(client, "desk.ann")
    clock.now += timedelta(minutes=16)
    after_the_lock = sign_in(client, "desk.ann")

    assert locked.status_code == 422 and "locked" in locked.text
    assert after_the_lock.status_code == 302
    actions = [action for (action,) in rows(database, "SELECT action FROM audit_entries ORDER BY id")]
    assert actions == ["sign_in_failed"] * 5 + ["sign_in_locked", "sign_in"]


def test_sign_in_attempts_from_one_address_are_throttled(client, accounts):
    accounts("desk.ann", "front_desk")

    answers = [sign_in(client, f"guess{n}", "wrong password, again").status_code for n in range(11)]

    assert answers[:10] == [422] * 10
    assert answers[10] == 429


def test_a_form_posted_without_its_csrf_token_is_refused_and_changes_nothing(client, accounts, database):
    accounts("desk.ann", "front_desk")

    answer = client.post("/sign-in", data={"username": "desk.ann", "password": PASSWORD})
    forged = client.post("/sign-in", data={"username": "desk.ann", "password": PASSWORD, "csrf_token": "forged"})

    assert answer.status_code == 400 and forged.status_code == 400
    assert answer.mimetype == "text/html"
    assert client.get("/").status_code == 302
    assert rows(database, "SELECT * FROM audit_entries") == []


def test_signing_out_needs_a_post_with_the_pages_token_and_ends_the_session(client, accounts, database, clock):
    accounts("desk.ann", "front_desk")
    sign_in(client, "desk.ann")
    board = client.get("/")

    by_get = client.get("/sign-out")
    without_token = client.post("/sign-out")
    still_in = client.get("/").status_code
    clock.now += timedelta(seconds=1)
    signed_out = client.post("/sign-out", data={"csrf_token": csrf_token(board.text)})

    assert by_get.status_code == 405 and without_token.status_code == 400 and still_in == 200
    assert signed_out.status_code == 302 and signed_out.headers["Location"] == "/sign-in"
    assert client.get("/").status_code == 302
    assert [a for (a,) in rows(database, "SELECT action FROM audit_entries ORDER BY id")] == ["sign_in", "sign_out"]


def test_a_cookie_kept_from_before_signing_out_no_longer_signs_anyone_in(runtime, accounts, clock):
    accounts("desk.ann", "front_desk")
    tablet, copy = runtime.app.test_client(), runtime.app.test_client()
    sign_in(tablet, "desk.ann")
    copy.set_cookie("scheduler_session", tablet.get_cookie("scheduler_session").value)
    assert copy.get("/").status_code == 200

    clock.now += timedelta(seconds=1)
    tablet.post("/sign-out", data={"csrf_token": csrf_token(tablet.get("/").text)})

    assert copy.get("/").status_code == 302


def test_the_api_takes_the_service_token_or_a_staff_session_and_refuses_neither(client, accounts):
    accounts("desk.ann", "front_desk")

    anonymous = client.get("/api/clinic")
    by_token = client.get("/api/clinic", headers=AUTH)
    sign_in(client, "desk.ann")
    by_session = client.get("/api/clinic")
    wrong_token_with_session = client.get("/api/clinic", headers={"Authorization": "Bearer wrong"})

    assert anonymous.status_code == 401 and anonymous.get_json() == {
        "errors": {"_request": ["A valid bearer token is required."]}
    }
    assert by_token.status_code == 200 and by_session.status_code == 200
    assert by_session.get_json() == by_token.get_json()
    assert wrong_token_with_session.status_code == 401, "a token given is judged by itself"


def test_a_change_through_the_api_under_a_staff_session_needs_the_pages_csrf_token(client, accounts, database):
    accounts("desk.ann", "front_desk")
    sign_in(client, "desk.ann")
    token = csrf_token(client.get("/").text)

    refused = client.post(
        "/api/patients", json={"name": "Ann Lee", "phone": "+14155550123", "preferred_channel": "sms"}
    )
    accepted = client.post(
        "/api/patients",
        json={"name": "Ann Lee", "phone": "+14155550123", "preferred_channel": "sms"},
        headers={"X-CSRFToken": token},
    )

    assert refused.status_code == 400 and refused.mimetype == "application/json"
    assert accepted.status_code == 201
    assert rows(database, "SELECT count(*) FROM patients") == [(1,)]


def test_a_staff_session_may_call_through_the_api_only_what_its_role_may_do(client, accounts):
    accounts("ops.cy", "ops")
    sign_in(client, "ops.cy")
    token = csrf_token(client.get("/").text)

    reads = client.get("/api/clinic")
    books = client.post(
        "/api/patients", json={"name": "Ann Lee", "phone": "+14155550123"}, headers={"X-CSRFToken": token}
    )

    assert reads.status_code == 200
    assert books.status_code == 403 and books.mimetype == "application/json"


def test_every_api_route_that_changes_something_has_its_permission_in_the_table(runtime):
    # A changing route missing from API_PERMISSIONS is for admins only: a new one (a checkpoint, say) left out would
    # lock the clinicians who need it out of the API.
    changing = {
        rule.endpoint
        for rule in runtime.app.url_map.iter_rules()
        if rule.endpoint.startswith("scheduler_api.") and rule.methods & {"POST", "PATCH", "PUT", "DELETE"}
    }

    assert "scheduler_api.mark_checkpoint" in changing, "the routes are read from the running app"
    assert sorted(changing - API_PERMISSIONS.keys()) == [], "changing routes without a permission"
    assert sorted(API_PERMISSIONS.keys() - changing) == [], "permissions for routes that do not exist or change nothing"


def test_a_booking_by_a_staff_member_is_audited_under_their_name_in_the_bookings_transaction(
    client, accounts, database
):
    accounts("desk.ann", "front_desk")
    sign_in(client, "desk.ann")
    headers = {"X-CSRFToken": csrf_token(client.get("/").text)}
    patient_id = register_patient_with_intake(client, headers)

    booked = client.post("/api/sessions", json=booking(patient_id), headers=headers)

    assert booked.status_code == 201
    session_id = booked.get_json()["id"]
    with database.connect() as connection:
        entries = SqlAuditLog(connection).between(NOW - timedelta(days=1), NOW + timedelta(days=1), limit=10)
    [entry] = [entry for entry in entries if entry.action == "session_booked"]
    assert (entry.actor.name, entry.subject_id, entry.at) == ("desk.ann", session_id, NOW)
    assert entry.actor.id is not None


def test_a_booking_whose_audit_entry_cannot_be_written_is_not_booked(client, database, monkeypatch):
    patient_id = register_patient_with_intake(client)

    def fail(*_args, **_kwargs):
        raise RuntimeError("the audit trail is unavailable")

    monkeypatch.setattr(SqlAuditLog, "record", fail)
    answer = client.post("/api/sessions", json=booking(patient_id), headers=AUTH)

    assert answer.status_code == 500
    assert rows(database, "SELECT count(*) FROM sessions") == [(0,)]
    assert rows(database, "SELECT count(*) FROM outbox") == [(0,)]


def test_the_session_changes_through_the_service_token_are_audited_as_the_service(client, database, clock):
    patient_id = register_patient_with_intake(client)
    session_id = client.post("/api/sessions", json=booking(patient_id), headers=AUTH).get_json()["id"]

    def step(route: str, body: dict | None = None) -> dict:
        response = client.post(f"/api/sessions/{session_id}/{route}", json=body, headers=AUTH)
        assert response.status_code == 200, f"{route}: {response.get_data(as_text=True)}"
        return response.get_json()

    def at_clinic_time(wall: str) -> None:
        clock.now = datetime.fromisoformat(f"2027-01-05T{wall}:00-05:00")

    step("reschedule", {"starts_at": "2027-01-05T11:00:00-05:00"})
    # The session's day, walked gate by gate: treatment starts at 10:30 (the earliest, half an hour before 11:00),
    # so the infusion ends 11:15 and monitoring 12:00; each checkpoint is marked when it is due.
    at_clinic_time("10:30")
    step("check-in", {"override_reason": "ride arranged by phone"})
    step("checkpoints/vitals_before_infusion")
    step("start-treatment")
    at_clinic_time("11:15")
    step("checkpoints/vitals_end_of_infusion")
    at_clinic_time("12:00")
    step("checkpoints/vitals_before_discharge")
    at_clinic_time("12:30")
    discharged = step("discharge")

    entries = rows(database, "SELECT actor_name, actor_id, action, subject_id, detail FROM audit_entries ORDER BY id")
    assert entries == [
        ("service", None, action, session_id, detail)
        for action, detail in (
            ("session_booked", None),
            ("session_rescheduled", None),
            ("check_in_gate_overridden", None),
            ("checkpoint_done", "vitals_before_infusion"),
            ("treatment_started", None),
            ("checkpoint_done", "vitals_end_of_infusion"),
            ("checkpoint_done", "vitals_before_discharge"),
            ("session_discharged", None),
        )
    ]
    assert "phone" not in str(entries), "the override's reason stays with the session"
    assert [(c["id"], c["done_by"]) for c in discharged["checkpoints"]] == [
        ("vitals_before_infusion", "service"),
        ("vitals_end_of_infusion", "service"),
        ("vitals_before_discharge", "service"),
    ], "each mark records the service as who did it, as the trail does"


def test_a_cancellation_and_a_no_show_are_audited_with_the_reason_code_only(client, database, clock):
    patient_id = register_patient_with_intake(client)
    first = client.post("/api/sessions", json=booking(patient_id), headers=AUTH).get_json()["id"]
    second = client.post(
        "/api/sessions", json={**booking(patient_id), "starts_at": "2027-01-12T09:00:00-05:00"}, headers=AUTH
    ).get_json()["id"]

    client.post(
        f"/api/sessions/{first}/cancel", json={"reason": "patient_request", "note": "Ann's sister is ill"}, headers=AUTH
    )
    clock.now = datetime(2027, 1, 12, 15, 0, tzinfo=UTC)
    client.post(f"/api/sessions/{second}/no-show", headers=AUTH)

    entries = rows(
        database,
        "SELECT action, subject_id, detail FROM audit_entries WHERE action IN "
        "('session_cancelled', 'no_show_recorded') ORDER BY id",
    )
    assert entries == [("session_cancelled", first, "patient_request"), ("no_show_recorded", second, None)]


def test_the_audit_page_shows_an_admin_the_days_entries_and_refuses_other_roles(client, accounts, runtime):
    accounts("admin.bo", "admin")
    accounts("desk.ann", "front_desk")
    sign_in(client, "desk.ann")
    refused = client.get("/audit")
    client.post("/sign-out", data={"csrf_token": csrf_token(client.get("/").text)})

    sign_in(client, "admin.bo")
    today = client.get("/audit")
    another_day = client.get("/audit?day=2026-11-30")
    not_a_day = client.get("/audit?day=yesterday")

    assert refused.status_code == 403 and refused.mimetype == "text/html"
    assert "Your role does not allow this page" in refused.text
    assert today.status_code == 200
    assert '<a href="/audit" aria-current="page">Audit</a>' in today.text
    assert "desk.ann" in today.text and "sign in" in today.text and "sign out" in today.text
    assert "desk.ann" not in another_day.text
    assert not_a_day.status_code == 422 and "Give the day as YYYY-MM-DD." in not_a_day.text


def test_pages_answer_errors_as_html_while_the_api_keeps_its_json(client, accounts):
    accounts("desk.ann", "front_desk")
    sign_in(client, "desk.ann")

    page = client.get("/no-such-page")
    api = client.get("/api/no-such-route", headers=AUTH)
    api_record = client.get("/api/sessions/no-such-session", headers=AUTH)
    health = client.get("/healthz/nothing")

    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "There is no page at this address." in page.text
    assert api.status_code == 404 and api.mimetype == "application/json" and "errors" in api.get_json()
    assert api_record.get_json() == {"errors": {"_request": ["No session has this id."]}}
    assert health.status_code == 404 and health.mimetype == "application/json"


def test_a_page_that_fails_says_so_in_html_without_the_details(client, accounts, monkeypatch):
    accounts("admin.bo", "admin")
    sign_in(client, "admin.bo")

    def fail(*_args, **_kwargs):
        raise RuntimeError("secret detail: Ann Lee +14155550123")

    monkeypatch.setattr(SqlAuditLog, "between", fail)
    answer = client.get("/audit")

    assert answer.status_code == 500 and answer.mimetype == "text/html"
    assert "Something went wrong on our side" in answer.text
    assert "secret detail" not in answer.text and "RuntimeError" not in answer.text


def test_pages_carry_the_security_headers_and_a_cookie_only_the_server_reads(client, accounts):
    accounts("desk.ann", "front_desk")

    sign_in_page = client.get("/sign-in")
    signed_in = sign_in(client, "desk.ann")
    board = client.get("/")
    api = client.get("/api/clinic", headers=AUTH)

    for page in (sign_in_page, board):
        policy = page.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert page.headers["Referrer-Policy"] == "same-origin"
        assert page.headers["Cache-Control"] == "no-store"
    cookie = signed_in.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Content-Security-Policy" not in api.headers, "the API's answers are as they were"
    assert "<script>" not in board.text and " on" + "click=" not in board.text
