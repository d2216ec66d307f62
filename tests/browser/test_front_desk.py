"""The front desk's day in a real browser: registering a patient and booking through the form (a field typed by
keyboard alone), a stale form whose slot was just taken, the board of a treatment day with every phase on it, the
ride badge changing by the board's own refresh, and axe-core finding no serious or critical violation on the sign-in
page, the booking form, the session page and the board.

Screenshots of the board and the form are saved under the test's tmp_path and copied to docs/screenshots/, where the
README shows them: what a person sees is part of what is tested.
"""

import io
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from services.scheduler.adapters import tables
from services.scheduler.adapters.clinic_config import load_clinic
from services.scheduler.adapters.notifications_client import SentMessage
from services.scheduler.adapters.unit_of_work import SchedulerUnitOfWork
from services.scheduler.bootstrap import bootstrap
from services.scheduler.cli import run_command
from services.scheduler.handlers import record_ride_status
from services.scheduler.web import FrontDeskSettings
from shared.contract import RIDE_AT_RISK, RIDE_CONFIRMED, RIDE_DISPATCHED, RIDE_REQUESTED, new_event
from shared.persistence.engine import create_database_engine
from shared.settings import Settings

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"
TOKEN = "front-desk-browser-token"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DAY = "2027-01-05"  # a Tuesday
THE_DAY_BEFORE = datetime(2027, 1, 4, 14, 0, tzinfo=UTC)  # Monday 09:00 in the clinic


def at(hh_mm: str) -> datetime:
    """An instant of the treatment day, from the clinic's wall clock (EST, UTC-5)."""
    hours, minutes = map(int, hh_mm.split(":"))
    return datetime(2027, 1, 5, hours + 5, minutes, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Notifications:
    """notifications' answer: the instructions sent for every session but those still waiting for their time."""

    def __init__(self):
        self.waiting: set[str] = set()

    def __call__(self, session_id: str) -> list[SentMessage]:
        status = "scheduled" if session_id in self.waiting else "sent"
        return [SentMessage("preparation_instructions", "patient", "sms", status, None, THE_DAY_BEFORE)]


class Clinic:
    """The scheduler served over HTTP with a clock the test moves, and what the test does through its API."""

    def __init__(self, url: str, clock: Clock, notifications: Notifications, database_url: str):
        self.url = url
        self.clock = clock
        self.notifications = notifications
        self._engine = create_database_engine(database_url, schema="scheduler")
        self._api = requests.Session()
        self._api.headers["Authorization"] = f"Bearer {TOKEN}"

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        answer = self._api.request(method, self.url + "/api" + path, json=body, timeout=10)
        assert answer.status_code in (200, 201), (path, answer.status_code, answer.text)
        return answer.json()

    def patient(self, name: str, phone: str) -> str:
        patient = self.api("POST", "/patients", {"name": name, "phone": phone})
        self.api(
            "POST",
            f"/patients/{patient['id']}/intake",
            {"completed_at": "2026-12-01T10:00:00-05:00", "recorded_by": "Dr. Patel"},
        )
        return patient["id"]

    def book(self, patient_id: str, hh_mm: str, treatment: str = "iv_infusion") -> str:
        ride = {"mode": "escort", "escort_name": "Sam Escort", "escort_phone": "+14155550199"}
        starts_at = f"{DAY}T{hh_mm}:00-05:00"
        body = {"patient_id": patient_id, "treatment_type": treatment, "starts_at": starts_at, "ride_home": ride}
        return self.api("POST", "/sessions", body)["id"]

    def ride(self, session_id: str, event_type, status: str) -> None:
        """Transport's report of the ride, handed to the scheduler's handler as its consumer would."""
        data = {
            "ride_id": f"ride-{session_id}",
            "session_id": session_id,
            "pickup_at": at("12:00"),
            "mode": "escort",
            "status": status,
        }
        event = new_event(event_type, data, correlation_id=session_id)
        record_ride_status(event, uow=SchedulerUnitOfWork(self._engine, tables.messaging, "scheduler"))

    def step(self, session_id: str, hh_mm: str, step: str, body: dict | None = None) -> None:
        self.clock.now = at(hh_mm)
        self.api("POST", f"/sessions/{session_id}/{step}", body)


@pytest.fixture
def clinic(tmp_path, monkeypatch):
    monkeypatch.delenv("CLINIC_CONFIG", raising=False)
    database_url = f"sqlite:///{tmp_path / 'scheduler.sqlite3'}"
    settings = Settings(
        service="scheduler",
        broker_url="memory://",
        database_url=database_url,
        port=0,
        service_token=TOKEN,
        scheduler_url="http://127.0.0.1:1",
    )
    for username, role in (("desk.ann", "front_desk"), ("dr.patel", "clinician")):
        argv = ["create-user", username, "--role", role, "--password-stdin"]
        assert run_command(argv, stdin=io.StringIO(PASSWORD), stdout=io.StringIO(), settings=settings) == 0
    clock, notifications = Clock(THE_DAY_BEFORE), Notifications()
    runtime = bootstrap(
        settings,
        clinic=load_clinic(),
        clock=clock,
        front_desk=FrontDeskSettings(secret_key="front-desk-browser-secret"),
        messages_of=notifications,
    )
    runtime.workers = []  # only the HTTP server: the pages are what is tested
    runtime.start()
    yield Clinic(f"http://127.0.0.1:{runtime.port}", clock, notifications, database_url)
    runtime.stop()


def sign_in(page, url: str, username: str = "desk.ann") -> None:
    page.goto(url + "/sign-in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def keep(screenshot: Path, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(screenshot, SCREENSHOTS / name)


def test_the_front_desk_registers_a_patient_and_books_through_the_form(
    clinic, tablet, tmp_path, accessibility_problems
):
    tablet.goto(clinic.url + "/")
    assert accessibility_problems(tablet) == [], "the sign-in page"
    sign_in(tablet, clinic.url)
    tablet.get_by_role("link", name="Book").click()
    tablet.wait_for_load_state()
    assert tablet.get_by_role("heading", level=1).inner_text() == "Book a session"
    assert accessibility_problems(tablet) == [], "the booking form, empty"

    tablet.get_by_text("New patient? Register them first").click()
    tablet.get_by_label("Full name").fill("Fay Ng")
    tablet.get_by_label("Phone", exact=True).fill("+14155550180")
    tablet.get_by_label("Intake completed on (optional)").fill("2026-12-15")
    tablet.get_by_label("Intake done by (optional)").fill("Dr. Patel")
    tablet.get_by_role("button", name="Register patient").click()
    tablet.wait_for_load_state()
    assert "The patient is registered, with their intake" in tablet.get_by_role("status").inner_text()
    assert tablet.get_by_label("Patient", exact=True).locator("option:checked").inner_text().startswith("Fay Ng")

    tablet.get_by_label("Treatment").select_option("iv_infusion")
    tablet.get_by_label("Day", exact=True).fill(DAY)
    tablet.get_by_role("button", name="Show start times").click()
    tablet.wait_for_load_state()
    starts = tablet.get_by_role("group", name="Start time")
    assert starts.get_by_role("radio").count() > 10, "the open starts of the day, as radio buttons"
    starts.get_by_label("11:00").check()
    # The escort's details by keyboard alone: type, Tab to the next field, type.
    tablet.get_by_label("Escort name").focus()
    tablet.keyboard.type("Gus Ng")
    tablet.keyboard.press("Tab")
    assert tablet.evaluate("document.activeElement.id") == "escort_phone"
    tablet.keyboard.type("+14155550181")
    assert accessibility_problems(tablet) == [], "the booking form with its start times"
    tablet.screenshot(path=tmp_path / "front-desk-booking.png", full_page=True)
    keep(tmp_path / "front-desk-booking.png", "front-desk-booking.png")

    tablet.get_by_role("button", name="Book session").focus()
    # A key press, unlike a click, does not wait for the navigation it starts: wait for it explicitly.
    with tablet.expect_navigation():
        tablet.keyboard.press("Enter")

    assert tablet.get_by_role("heading", level=1).inner_text() == "Fay Ng"
    assert "Session booked: Tue 5 Jan at 11:00" in tablet.get_by_role("status").inner_text()
    assert "Gus Ng · +14155550181" in tablet.locator("#ride-home + dl").inner_text()
    assert accessibility_problems(tablet) == [], "the session page"
    assert tablet.complaints == [], "nothing the Content-Security-Policy refuses"


def test_a_stale_form_whose_slot_was_just_taken_shows_why_and_keeps_what_was_typed(clinic, tablet):
    first, second = clinic.patient("Ann Lee", "+14155550101"), clinic.patient("Bo Chen", "+14155550102")
    sign_in(tablet, clinic.url)
    tablet.goto(f"{clinic.url}/book?patient_id={second}&treatment_type=iv_infusion&day={DAY}")
    tablet.get_by_role("group", name="Start time").get_by_label("09:00").check()
    tablet.get_by_label("Escort name").fill("Dee Chen")
    tablet.get_by_label("Escort phone").fill("+14155550103")

    clinic.book(first, "09:00")  # meanwhile, on the phone: the only clinician at 09:00 now treats Ann Lee
    tablet.get_by_role("button", name="Book session").click()
    tablet.wait_for_load_state()

    assert tablet.get_by_role("alert").first.inner_text().startswith("Not booked: ")
    assert tablet.get_by_label("Escort name").input_value() == "Dee Chen"
    assert tablet.get_by_label("Escort phone").input_value() == "+14155550103"
    assert tablet.get_by_role("group", name="Start time").get_by_label("09:00", exact=True).count() == 0


def test_the_board_shows_the_treatment_day_and_the_ride_badge_changes_by_itself(
    clinic, tablet, tmp_path, accessibility_problems
):
    ann = clinic.book(clinic.patient("Ann Lee", "+14155550101"), "08:00")
    bo = clinic.book(clinic.patient("Bo Chen", "+14155550102"), "08:45", "esketamine_nasal_spray")
    cara = clinic.book(clinic.patient("Cara Diaz", "+14155550104"), "09:00")
    dev = clinic.book(clinic.patient("Dev Rao", "+14155550105"), "10:00", "intake_assessment")
    eli = clinic.book(clinic.patient("Eli Moss", "+14155550106"), "10:15")
    fay = clinic.book(clinic.patient("Fay Ng", "+14155550107"), "11:00")
    gil = clinic.book(clinic.patient("Gil Ray", "+14155550108"), "13:00")
    clinic.notifications.waiting = {fay}
    for session, event, status in (
        (ann, RIDE_CONFIRMED, "confirmed"),
        (bo, RIDE_DISPATCHED, "dispatched"),
        (cara, RIDE_CONFIRMED, "confirmed"),
        (eli, RIDE_AT_RISK, "requested"),
        (fay, RIDE_REQUESTED, "requested"),
    ):
        clinic.ride(session, event, status)
    clinic.step(gil, "07:30", "cancel", {"reason": "patient_unwell"})
    clinic.step(ann, "07:50", "check-in")
    clinic.step(ann, "07:52", "checkpoints/vitals_before_infusion")
    clinic.step(ann, "08:00", "start-treatment")
    clinic.step(bo, "08:35", "check-in")
    clinic.step(bo, "08:38", "checkpoints/bp_before_dose")
    clinic.step(bo, "08:45", "start-treatment")
    clinic.step(ann, "08:45", "checkpoints/vitals_end_of_infusion")
    clinic.step(cara, "08:50", "check-in")
    clinic.step(cara, "08:55", "checkpoints/vitals_before_infusion")
    clinic.step(cara, "09:00", "start-treatment")
    clinic.step(dev, "09:38", "check-in", {"override_reason": "No ride needed for the intake"})
    clinic.clock.now = at("09:40")

    sign_in(tablet, clinic.url)
    assert tablet.get_by_role("heading", level=1).inner_text() == "Board"
    board = tablet.locator("#board")
    text = board.inner_text()
    for name in ("Ann", "Lee", "Chen", "Diaz", "Moss"):
        assert name not in text, "the board shows initials, never a name"
    for initials, phase in (
        ("A.L.", "Ready to leave"),
        ("B.C.", "Monitoring"),
        ("C.D.", "In treatment"),
        ("D.R.", "Arrived"),
        ("E.M.", "Booked"),
    ):
        card = board.locator(".session-card", has=tablet.get_by_role("link", name=initials))
        assert card.locator(".badge.phase").inner_text() == phase
    assert "overdue" in board.locator(".session-card", has=tablet.get_by_role("link", name="B.C.")).inner_text()
    assert "Cancelled and no-shows" in text
    assert accessibility_problems(tablet) == [], "the board"
    tablet.screenshot(path=tmp_path / "front-desk-board.png", full_page=True)
    keep(tmp_path / "front-desk-board.png", "front-desk-board.png")

    fay_card = board.locator(".session-card", has=tablet.get_by_role("link", name="F.N."))
    assert "Ride requested" in fay_card.inner_text()
    tablet.evaluate("window.notReloaded = true")
    clinic.ride(fay, RIDE_CONFIRMED, "confirmed")  # the escort confirmed the pickup
    tablet.locator(".session-card", has_text="Ride confirmed").filter(
        has=tablet.get_by_role("link", name="F.N.")
    ).wait_for(timeout=15_000)
    assert tablet.evaluate("window.notReloaded === true"), "the board refreshed its chairs, not the whole page"
    assert tablet.complaints == [], "nothing the Content-Security-Policy refuses"
