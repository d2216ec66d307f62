"""The front desk's pages on SQLite and on PostgreSQL: the board, the booking form and the session page of the real
scheduler app (memory:// broker, a clock the test sets) through Flask's test client, as a front desk member and a
clinician would use them, checked against what lands in the database.

What notifications sent is a fake of the pages' adapter: the pages never wait on another service in these tests.
"""

import io
import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from sqlalchemy import text

from services.scheduler.adapters.clinic_config import load_clinic
from services.scheduler.adapters.notifications_client import SentMessage
from services.scheduler.bootstrap import bootstrap
from services.scheduler.cli import run_command
from services.scheduler.web import FrontDeskSettings
from shared.persistence.engine import create_database_engine
from shared.settings import Settings

pytestmark = pytest.mark.integration

TOKEN = "front-desk-pages-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # Tuesday 07:00 in the clinic
DAY = "2027-01-05"  # a Tuesday: Dr. Patel alone treats from 08:00 to 10:00
NINE = "2027-01-05T09:00:00-05:00"
ON_THE_DAY = datetime(2027, 1, 5, 13, 50, tzinfo=UTC)  # 08:50 in the clinic
PASSWORD = "correct horse battery staple"
CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
SESSION_PAGE = re.compile(r"/sessions/([A-Za-z0-9-]+)$")


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Notifications:
    """What notifications would answer for each session; None: it does not answer."""

    def __init__(self):
        self.answer: list[SentMessage] | None = []

    def __call__(self, _session_id: str) -> list[SentMessage] | None:
        return self.answer


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
def notifications() -> Notifications:
    return Notifications()


@pytest.fixture
def runtime(database_url, clock, notifications, monkeypatch):
    monkeypatch.delenv("CLINIC_CONFIG", raising=False)
    runtime = bootstrap(
        settings(database_url),
        clinic=load_clinic(),
        clock=clock,
        front_desk=FrontDeskSettings(secret_key="front-desk-pages-secret"),
        messages_of=notifications,
    )
    for username, role in (("desk.ann", "front_desk"), ("dr.patel", "clinician")):
        argv = ["create-user", username, "--role", role, "--password-stdin"]
        stdin = io.StringIO(PASSWORD + "\n")
        assert run_command(argv, stdin=stdin, stdout=io.StringIO(), settings=settings(database_url)) == 0
    return runtime


@pytest.fixture
def database(database_url, runtime):
    engine = create_database_engine(database_url, schema="scheduler")
    yield engine
    engine.dispose()


@pytest.fixture
def desk(runtime):
    return signed_in(runtime.app.test_client(), "desk.ann")


@pytest.fixture
def clinician(runtime):
    return signed_in(runtime.app.test_client(), "dr.patel")


@pytest.fixture
def api(runtime):
    return runtime.app.test_client()


def signed_in(client, username: str):
    page = client.get("/sign-in")
    answer = client.post(
        "/sign-in", data={"csrf_token": csrf_token(page.text), "username": username, "password": PASSWORD}
    )
    assert answer.status_code == 302
    return client


def csrf_token(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "the page has a form with a CSRF token"
    return match.group(1)


def rows(engine, sql: str, **params) -> list:
    with engine.connect() as connection:
        return list(connection.execute(text(sql), params))


def register_with_intake(api, name: str = "Ann Lee", phone: str = "+14155550123") -> str:
    patient = api.post(
        "/api/patients", json={"name": name, "phone": phone, "preferred_channel": "sms"}, headers=AUTH
    ).get_json()
    intake = {"completed_at": "2026-11-20T10:00:00-05:00", "recorded_by": "Dr. Patel"}
    assert api.post(f"/api/patients/{patient['id']}/intake", json=intake, headers=AUTH).status_code == 201
    return patient["id"]


def book_by_api(api, patient_id: str, starts_at: str = NINE, treatment_type: str = "iv_infusion") -> str:
    ride = {"mode": "escort", "escort_name": "Bo Lee", "escort_phone": "+14155550124"}
    body = {"patient_id": patient_id, "treatment_type": treatment_type, "starts_at": starts_at, "ride_home": ride}
    answer = api.post("/api/sessions", json=body, headers=AUTH)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["id"]


def booking_form(client, **values) -> dict:
    form = {
        "csrf_token": csrf_token(client.get("/book").text),
        "treatment_type": "iv_infusion",
        "day": DAY,
        "ride_mode": "escort",
        "escort_name": "Bo Lee",
        "escort_phone": "+14155550124",
        "dropoff_address": "",
        "count": "",
        "within_days": "",
    }
    form.update(values)
    return form


def post_with_token(client, path: str, data: dict | None = None):
    page = client.get("/")
    return client.post(path, data={"csrf_token": csrf_token(page.text), **(data or {})})


def field_error(html: str, field: str) -> str:
    match = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', html)
    assert match, f"the page shows a problem next to the {field} field"
    return unescape(match.group(1))


def alert(html: str) -> str:
    match = re.search(r'<p class="error" role="alert"[^>]*>([^<]*)</p>', html)
    assert match, "the page shows a refusal next to the form"
    return unescape(match.group(1))


def test_the_front_desk_registers_a_patient_with_intake_finds_them_and_books_through_the_form(desk, database, clock):
    csrf = csrf_token(desk.get("/book").text)
    registered = desk.post(
        "/book/patients",
        data={
            "csrf_token": csrf,
            "name": "Ann Marie Lee",
            "phone": "+1 415-555-0123",
            "email": "",
            "preferred_channel": "sms",
            "language": "en",
            "intake_day": "2026-11-20",
            "intake_by": "Dr. Patel",
        },
    )
    assert registered.status_code == 303
    patient_id = registered.headers["Location"].split("patient_id=")[1]
    assert rows(database, "SELECT recorded_by FROM intake_assessments WHERE patient_id = :p", p=patient_id) == [
        ("Dr. Patel",)
    ]
    assert "The patient is registered, with their intake" in desk.get(registered.headers["Location"]).text

    found = desk.post("/book", data=booking_form(desk, action="find", search="ann marie"))
    assert f'<option value="{patient_id}">Ann Marie Lee' in found.text
    by_phone = desk.post("/book", data=booking_form(desk, action="find", search="555 0123"))
    assert f'<option value="{patient_id}">' in by_phone.text, "a phone is found by its digits"

    times = desk.post("/book", data=booking_form(desk, action="times", patient_id=patient_id))
    assert times.status_code == 200
    assert f'value="{NINE}"' in times.text, "09:00 is among the open start times, as a radio button"
    assert "<legend>Start time</legend>" in times.text

    booked = desk.post(
        "/book", data={**booking_form(desk, patient_id=patient_id, starts_at=NINE), "form_key": "a1b2c3d4e5f6"}
    )
    assert booked.status_code == 303
    session_id = SESSION_PAGE.search(booked.headers["Location"]).group(1)
    assert rows(database, "SELECT patient_id, status, escort_name FROM sessions WHERE id = :s", s=session_id) == [
        (patient_id, "booked", "Bo Lee")
    ]
    assert rows(database, "SELECT actor_name FROM audit_entries WHERE subject_id = :s", s=session_id) == [("desk.ann",)]
    page = desk.get(booked.headers["Location"])
    assert "Session booked: Tue 5 Jan at 09:00" in page.text
    assert "Ann Marie Lee" in page.text
    assert "08:45" in page.text and "09:00–09:45" in page.text, "arrival and treatment in the clinic's zone"
    assert "Session booked · desk.ann" in page.text, "the timeline names who booked"


def test_a_taken_slot_shows_the_reason_next_to_the_form_with_the_entered_values_kept(desk, api, database):
    first = register_with_intake(api, "Ann Lee", "+14155550123")
    second = register_with_intake(api, "Cy Young", "+14155550125")
    form = booking_form(desk, patient_id=second, starts_at=NINE, escort_name="Dee Young", escort_phone="+14155550126")
    book_by_api(api, first)  # 09:00 taken meanwhile: the only clinician at that hour treats Ann Lee

    refused = desk.post("/book", data=form)

    assert refused.status_code == 409
    assert alert(refused.text).startswith("Not booked: ")
    assert "clinician" in alert(refused.text).lower()
    assert 'value="Dee Young"' in refused.text and 'value="+14155550126"' in refused.text
    assert f'<option value="{second}" selected>' in refused.text
    assert f'value="{NINE}"' not in refused.text, "the taken start is no longer offered"
    assert rows(database, "SELECT COUNT(*) FROM sessions WHERE patient_id = :p", p=second) == [(0,)]


def test_a_missing_intake_is_refused_with_its_reason(desk, api):
    patient = api.post("/api/patients", json={"name": "Eve Park", "phone": "+14155550127"}, headers=AUTH).get_json()[
        "id"
    ]

    refused = desk.post("/book", data=booking_form(desk, patient_id=patient, starts_at=NINE))

    assert refused.status_code == 409
    assert "intake" in alert(refused.text).lower()


def test_each_missing_or_wrong_field_is_named_next_to_it_and_nothing_is_booked(desk, database):
    refused = desk.post(
        "/book",
        data=booking_form(desk, treatment_type="", day="5 January", escort_phone="tomorrow", count="20"),
    )

    assert refused.status_code == 422
    assert field_error(refused.text, "patient_id").startswith("Choose a patient")
    assert field_error(refused.text, "treatment_type") == "Choose a treatment."
    assert field_error(refused.text, "day") == "Give the day as YYYY-MM-DD."
    assert "E.164" in field_error(refused.text, "escort_phone")
    assert field_error(refused.text, "count").startswith("Give a number from 2 to 12")
    assert rows(database, "SELECT COUNT(*) FROM sessions") == [(0,)]


def test_a_series_is_booked_from_the_same_form(desk, api, database):
    patient = register_with_intake(api)

    booked = desk.post("/book", data=booking_form(desk, patient_id=patient, starts_at=NINE, count="3", within_days="7"))

    assert booked.status_code == 303
    assert rows(database, "SELECT COUNT(DISTINCT series_id) FROM sessions WHERE patient_id = :p", p=patient) == [(1,)]
    assert rows(database, "SELECT COUNT(*) FROM sessions WHERE patient_id = :p", p=patient) == [(3,)]
    assert "Series of 3 sessions booked: Tue 5 Jan at 09:00" in desk.get(booked.headers["Location"]).text


def test_the_board_shows_each_chair_and_the_session_with_initials_only(desk, api, notifications):
    session_id = book_by_api(api, register_with_intake(api, "Ann Marie Lee"))
    notifications.answer = [
        SentMessage("preparation_instructions", "patient", "sms", "sent", None, datetime(2026, 12, 1, tzinfo=UTC))
    ]

    board = desk.get(f"/?day={DAY}")

    assert board.status_code == 200
    assert "Ann" not in board.text and "Lee" not in board.text, "no part of the name beyond its initials"
    assert f'href="/sessions/{session_id}">A.L.' in board.text
    for chair in ("Chair 1", "Chair 2", "Chair 3", "Chair 4"):
        assert f">{chair}</h2>" in board.text
    assert 'class="badge phase">Booked<' in board.text
    assert "Arrival <time" in board.text and ">08:45</time>" in board.text
    assert ">Ride not requested yet<" in board.text
    assert ">Instructions sent<" in board.text
    for block in ("treatment", "recovery", "turnover"):
        assert f'class="seg {block}"' in board.text
    assert 'href="/?day=2027-01-04"' in board.text and 'href="/?day=2027-01-06"' in board.text


def test_the_board_refreshes_its_chairs_alone_without_counting_as_activity(desk, api, notifications):
    book_by_api(api, register_with_intake(api))
    notifications.answer = None

    page = desk.get(f"/?day={DAY}")
    live = desk.get(f"/board/live?day={DAY}", headers={"HX-Request": "true", "X-Auto-Refresh": "true"})

    assert 'hx-get="/board/live?day=2027-01-05"' in page.text and 'hx-trigger="every 10s"' in page.text
    assert "X-Auto-Refresh" in page.text
    assert live.status_code == 200
    assert live.text.lstrip().startswith("{#") is False and "<html" not in live.text, "a fragment, not a page"
    assert 'id="board"' in live.text and ">A.L.<" in live.text
    assert ">Instructions unknown<" in live.text, "notifications not answering is said, not hidden"


def test_a_day_that_is_not_a_day_is_refused_next_to_the_field(desk):
    answer = desk.get("/?day=<script>alert(1)</script>")

    assert answer.status_code == 422
    assert field_error(answer.text, "day") == "Give the day as YYYY-MM-DD."
    assert "<script>alert(1)" not in answer.text


def test_the_treatment_day_runs_from_the_session_page_each_step_by_its_role(desk, clinician, api, clock, database):
    session_id = book_by_api(api, register_with_intake(api))
    page = f"/sessions/{session_id}"
    clock.now = ON_THE_DAY  # five weeks on: both sign in again
    signed_in(desk, "desk.ann")
    signed_in(clinician, "dr.patel")

    shown = desk.get(page).text
    assert "Override reason" in shown and ">Check in</button>" in shown
    refused = post_with_token(desk, f"{page}/check-in")
    assert refused.status_code == 409
    assert alert(refused.text).startswith("The ride home is not confirmed")

    checked_in = post_with_token(desk, f"{page}/check-in", {"check_in_override": "Escort confirmed by phone"})
    assert checked_in.status_code == 303
    assert "Checked in, the ride home&#39;s gate overridden." in desk.get(page).text
    assert rows(database, "SELECT check_in_override_reason FROM sessions WHERE id = :s", s=session_id) == [
        ("Escort confirmed by phone",)
    ]

    as_clinician = clinician.get(page).text
    assert ">Start treatment</button>" in as_clinician and "Cancel session" not in as_clinician
    assert ">Start treatment</button>" not in desk.get(page).text
    marked = post_with_token(clinician, f"{page}/checkpoints/vitals_before_infusion")
    assert marked.status_code == 303
    started = post_with_token(clinician, f"{page}/start-treatment")
    assert started.status_code == 303
    assert 'class="badge phase">In treatment<' in desk.get(f"/?day={DAY}").text

    clock.now = ON_THE_DAY + timedelta(minutes=25)
    too_early = post_with_token(clinician, f"{page}/discharge")
    assert too_early.status_code == 409
    assert "Monitoring lasts at least" in alert(too_early.text)
    overridden = post_with_token(clinician, f"{page}/discharge", {"discharge_override": "Transferred to hospital"})
    assert overridden.status_code == 303
    assert rows(database, "SELECT status FROM sessions WHERE id = :s", s=session_id) == [("discharged",)]
    assert 'class="badge phase">Left<' in desk.get(f"/?day={DAY}").text
    actions = [row[0] for row in rows(database, "SELECT action FROM audit_entries WHERE subject_id = :s", s=session_id)]
    assert actions[-1] == "discharge_gate_overridden"


def test_another_roles_actions_are_refused_whatever_is_sent(desk, clinician, api, database):
    session_id = book_by_api(api, register_with_intake(api))
    page = f"/sessions/{session_id}"

    assert clinician.get("/book").status_code == 403
    assert post_with_token(clinician, f"{page}/cancel", {"reason": "other"}).status_code == 403
    assert post_with_token(clinician, f"{page}/no-show").status_code == 403
    assert post_with_token(desk, f"{page}/start-treatment").status_code == 403
    assert post_with_token(desk, f"{page}/discharge").status_code == 403
    assert rows(database, "SELECT status FROM sessions WHERE id = :s", s=session_id) == [("booked",)]


def test_a_post_without_the_forms_csrf_token_changes_nothing(desk, api, database):
    patient = register_with_intake(api)
    session_id = book_by_api(api, patient)
    form = booking_form(desk, patient_id=patient, starts_at="2027-01-06T09:00:00-05:00")
    del form["csrf_token"]

    assert desk.post("/book", data=form).status_code == 400
    assert desk.post(f"/sessions/{session_id}/cancel", data={"reason": "other"}).status_code == 400
    assert (
        desk.post(f"/sessions/{session_id}/cancel", data={"reason": "other", "csrf_token": "forged"}).status_code == 400
    )
    assert rows(database, "SELECT status FROM sessions WHERE patient_id = :p", p=patient) == [("booked",)]


def test_no_step_changes_a_session_through_get(desk, api, database):
    session_id = book_by_api(api, register_with_intake(api))

    for step in ("cancel", "check-in", "no-show", "reschedule"):
        assert desk.get(f"/sessions/{session_id}/{step}").status_code == 405
    assert rows(database, "SELECT status FROM sessions WHERE id = :s", s=session_id) == [("booked",)]


def test_a_cancellation_takes_a_reason_code_and_keeps_the_note_out_of_the_audit(desk, api, database):
    session_id = book_by_api(api, register_with_intake(api))
    page = f"/sessions/{session_id}"

    no_reason = post_with_token(desk, f"{page}/cancel", {"reason": "", "note": "Called in"})
    assert no_reason.status_code == 422
    assert field_error(no_reason.text, "reason") == "Choose a reason."
    assert 'value="Called in"' in no_reason.text

    cancelled = post_with_token(desk, f"{page}/cancel", {"reason": "patient_unwell", "note": "Ann has a fever"})
    assert cancelled.status_code == 303
    assert rows(database, "SELECT status, cancel_reason FROM sessions WHERE id = :s", s=session_id) == [
        ("cancelled", "patient_unwell")
    ]
    assert rows(database, "SELECT detail FROM audit_entries WHERE action = 'session_cancelled'") == [
        ("patient_unwell",)
    ]
    assert "Cancelled and no-shows" in desk.get(f"/?day={DAY}").text


def test_a_session_is_rescheduled_from_the_start_times_of_another_day(desk, api, database):
    session_id = book_by_api(api, register_with_intake(api))
    page = f"/sessions/{session_id}"

    picker = desk.get(f"{page}?reschedule_day=2027-01-06")
    assert picker.status_code == 200
    new_start = "2027-01-06T10:00:00-05:00"
    assert f'value="{new_start}"' in picker.text

    moved = desk.post(f"{page}/reschedule", data={"csrf_token": csrf_token(picker.text), "starts_at": new_start})

    assert moved.status_code == 303
    assert "Session moved to Wed 6 Jan at 10:00." in desk.get(page).text
    assert api.get(f"/api/sessions/{session_id}", headers=AUTH).get_json()["starts_at"] == new_start


def test_hostile_input_is_escaped_or_refused_next_to_its_field_never_a_server_error(desk, api, database):
    csrf = csrf_token(desk.get("/book").text)
    long = desk.post("/book/patients", data={"csrf_token": csrf, "name": "A" * 5000, "phone": "+14155550123" * 50})
    assert long.status_code == 422
    assert field_error(long.text, "name") == "Use at most 200 characters."
    assert field_error(long.text, "phone")
    assert rows(database, "SELECT COUNT(*) FROM patients") == [(0,)]

    script = "<script>alert('x')</script> Lee"
    registered = desk.post("/book/patients", data={"csrf_token": csrf, "name": script, "phone": "+14155550123"})
    assert registered.status_code == 303
    patient_id = registered.headers["Location"].split("patient_id=")[1]
    session_id = book_by_api(api, patient_id, treatment_type="intake_assessment")
    found = desk.post("/book", data=booking_form(desk, action="find", search="<script>"))
    session_page = desk.get(f"/sessions/{session_id}")
    board = desk.get(f"/?day={DAY}")
    for answer in (found, session_page, board):
        assert answer.status_code == 200
        assert "<script>alert" not in answer.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Lee" in session_page.text
    assert ">S.L.<" in board.text, "initials are the first letters of the first and last words, escaped or not"

    weird = desk.post(
        "/book",
        data=booking_form(desk, patient_id="../../etc", starts_at="not a time" * 100, search="%_%", action="book"),
    )
    assert weird.status_code == 422
    assert field_error(weird.text, "patient_id")
    assert desk.get("/sessions/no-such-session").status_code == 404
