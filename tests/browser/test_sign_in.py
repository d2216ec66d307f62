"""Signing in to the front desk in a real browser: the form by its labels, the board behind it, the header with the
staff member and the sign-out button, and nothing the Content-Security-Policy refuses (htmx included)."""

import io

import pytest

from services.scheduler.adapters.clinic_config import load_clinic
from services.scheduler.bootstrap import bootstrap
from services.scheduler.cli import run_command
from services.scheduler.web import FrontDeskSettings
from shared.settings import Settings

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"


@pytest.fixture
def scheduler(tmp_path, monkeypatch):
    monkeypatch.delenv("CLINIC_CONFIG", raising=False)
    settings = Settings(
        service="scheduler",
        broker_url="memory://",
        database_url=f"sqlite:///{tmp_path / 'scheduler.sqlite3'}",
        port=0,
        service_token="browser-token",
        scheduler_url="http://127.0.0.1:1",
    )
    argv = ["create-user", "desk.ann", "--role", "front_desk", "--password-stdin"]
    assert run_command(argv, stdin=io.StringIO(PASSWORD), stdout=io.StringIO(), settings=settings) == 0
    runtime = bootstrap(settings, clinic=load_clinic(), front_desk=FrontDeskSettings(secret_key="browser-secret"))
    # Only the HTTP server: the pages are what is tested, not the relay or the consumer.
    runtime.workers = []
    runtime.start()
    yield f"http://127.0.0.1:{runtime.port}"
    runtime.stop()


@pytest.fixture
def tablet(browser):
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    page = context.new_page()
    page.complaints = []
    page.on("console", lambda message: message.type == "error" and page.complaints.append(message.text))
    page.on("pageerror", lambda error: page.complaints.append(str(error)))
    yield page
    context.close()


def test_a_front_desk_member_signs_in_through_the_form_and_sees_the_board(scheduler, tablet, tmp_path):
    tablet.goto(scheduler + "/")
    assert tablet.url == scheduler + "/sign-in", "the board asks to sign in first"
    tablet.screenshot(path=tmp_path / "sign-in.png", full_page=True)

    tablet.get_by_label("Username").fill("desk.ann")
    tablet.get_by_label("Password").fill(PASSWORD)
    tablet.get_by_role("button", name="Sign in").click()
    tablet.wait_for_load_state()
    tablet.screenshot(path=tmp_path / "board.png", full_page=True)

    assert tablet.get_by_role("heading", level=1).inner_text() == "Board"
    header = tablet.locator("header.site").inner_text()
    assert "desk.ann" in header and "front desk" in header
    assert tablet.get_by_role("link", name="Board").get_attribute("aria-current") == "page"
    assert tablet.get_by_role("link", name="Audit").count() == 0
    assert tablet.evaluate("typeof htmx") == "object", "htmx is served by the app and allowed to run"
    assert tablet.complaints == [], "the pages load nothing their Content-Security-Policy refuses"

    tablet.keyboard.press("Tab")
    assert tablet.evaluate("document.activeElement.textContent") == "Skip to the content"

    tablet.get_by_role("button", name="Sign out").click()
    tablet.wait_for_load_state()
    assert tablet.url == scheduler + "/sign-in"
    tablet.goto(scheduler + "/")
    assert tablet.url.startswith(scheduler + "/sign-in")


def test_a_wrong_password_shows_the_refusal_next_to_the_form(scheduler, tablet):
    tablet.goto(scheduler + "/sign-in")
    tablet.get_by_label("Username").fill("desk.ann")
    tablet.get_by_label("Password").fill("not the password")
    tablet.get_by_role("button", name="Sign in").click()
    tablet.wait_for_load_state()

    assert tablet.get_by_role("alert").inner_text() == "The username or password is not right."
    assert tablet.get_by_label("Username").input_value() == "desk.ann"
    assert tablet.get_by_label("Password").input_value() == "", "a password is never sent back"
