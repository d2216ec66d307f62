"""A real headless Chromium for the pages: Debian's, installed by ``python3 dev.py test`` when it is missing."""

import shutil
from pathlib import Path

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


@pytest.fixture
def tablet(browser):
    """A page the size of a desk tablet (landscape), recording what the browser complained of."""
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    page = context.new_page()
    page.complaints = []
    page.on("console", lambda message: message.type == "error" and page.complaints.append(message.text))
    page.on("pageerror", lambda error: page.complaints.append(str(error)))
    yield page
    context.close()


AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.exists():
        pytest.fail("axe-core is missing: `python3 dev.py test` installs it (npm) into tests/browser/node_modules")
    return AXE.read_text(encoding="utf-8")


@pytest.fixture
def accessibility_problems(axe_source):
    """Runs axe-core in the page as it stands and returns its serious and critical violations, one line each.

    axe is evaluated through the DevTools protocol, which the page's Content-Security-Policy does not govern: the page
    is checked exactly as it is served, no script of its own added."""

    def check(page) -> list[str]:
        if not page.evaluate("typeof window.axe === 'object'"):
            page.evaluate(axe_source + "\n;true")
        results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        return [
            f"{violation['id']} ({violation['impact']}): {violation['help']} at "
            + ", ".join(str(node["target"]) for node in violation["nodes"][:3])
            for violation in results["violations"]
            if violation["impact"] in SERIOUS
        ]

    return check
