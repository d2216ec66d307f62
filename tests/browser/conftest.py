"""A real headless Chromium for the pages: Debian's, installed by ``python3 dev.py test`` when it is missing."""

import shutil

import pytest
from integration.test_transport_escort_and_at_risk import served  # noqa: F401 - transport served over HTTP
from playwright.sync_api import sync_playwright

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


@pytest.fixture(scope="session")
def browser():
    executable = next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)
    if executable is None:
        pytest.fail("no Chromium on this machine: `python3 dev.py test` installs Debian's chromium package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def phone(browser):
    """A page the size of a phone's screen, recording what the browser complained of (a CSP violation, a 404)."""
    context = browser.new_context(viewport={"width": 400, "height": 760})
    page = context.new_page()
    page.complaints = []
    page.on("console", lambda message: message.type == "error" and page.complaints.append(message.text))
    page.on("pageerror", lambda error: page.complaints.append(str(error)))
    yield page
    context.close()
