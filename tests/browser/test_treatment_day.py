"""A treatment day on the session page in a real browser: the front desk checks the patient in (the ride home
confirmed), then a clinician, as the clinic's clock moves along the day, marks the checkpoint before the infusion (by
keyboard), starts the treatment, is refused the discharge while monitoring is not complete (the reason shown next to
the discharge form), marks the remaining checkpoints when they are due and discharges. The page then shows the
patient gone, and its history (the audit trail) names the staff member behind each step.

The front desk sees none of the clinician's steps on the page, and a POST crafted with its own valid CSRF token is
refused (403). axe-core finds no serious or critical violation on the session page; a screenshot of the page mid-
treatment is saved under tmp_path and copied to docs/screenshots/, where the README can show it.
"""

from dataclasses import replace
from datetime import timedelta

import pytest
from browser import test_front_desk
from browser.test_front_desk import at, keep, sign_in

from shared.contract import RIDE_CONFIRMED, new_event

pytestmark = pytest.mark.e2e

# The front desk's scheduler, served with a fake clock and its two staff accounts (desk.ann, dr.patel).
clinic = test_front_desk.clinic


@pytest.fixture
def floor_tablet(browser):
    """A second tablet (the clinician's on the floor), with its own cookies: its own staff session."""
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    page = context.new_page()
    page.complaints = []
    page.on("console", lambda message: message.type == "error" and page.complaints.append(message.text))
    page.on("pageerror", lambda error: page.complaints.append(str(error)))
    yield page
    context.close()


def action_form(page, heading: str):
    """The card of one of the session page's steps, found by its heading."""
    return page.locator("form.action", has=page.get_by_role("heading", name=heading, exact=True))


def checkpoint_item(page, label: str):
    """A checkpoint's line (its button's accessible name is "Mark done", then its label for screen readers)."""
    return page.locator("#checkpoints + ul li", has=page.get_by_text(label, exact=True))


def mark(clinic, page, page_url: str, hh_mm: str, label: str) -> None:
    """The clinician marks one checkpoint done at ``hh_mm`` with a click; the page says so, with who and when."""
    clinic.clock.now = at(hh_mm)
    page.goto(page_url)
    checkpoint_item(page, label).get_by_role("button", name="Mark done").click()
    page.wait_for_load_state()
    assert notice(page) == "Checkpoint marked done."
    assert f"Done {hh_mm} by dr.patel" in " ".join(checkpoint_item(page, label).inner_text().split())


def notice(page) -> str:
    return page.get_by_role("status").inner_text()


def test_check_in_checkpoints_start_a_refused_then_a_granted_discharge(
    clinic, tablet, floor_tablet, tmp_path, accessibility_problems, monkeypatch
):
    session = clinic.book(clinic.patient("Ann Lee", "+14155550101"), "10:00")
    # The escort confirms that afternoon; transport's event carries the clinic's (fake) time, not the machine's.
    clinic.clock.now += timedelta(hours=6)
    monkeypatch.setattr(
        test_front_desk,
        "new_event",
        lambda *args, **kwargs: replace(new_event(*args, **kwargs), occurred_at=clinic.clock.now),
    )
    clinic.ride(session, RIDE_CONFIRMED, "confirmed")
    page_url = f"{clinic.url}/sessions/{session}"

    # 09:45, the arrival time: the front desk checks Ann in from her session page, with a click.
    clinic.clock.now = at("09:45")
    sign_in(tablet, clinic.url, "desk.ann")
    tablet.goto(page_url)
    assert tablet.get_by_role("heading", level=1).inner_text() == "Ann Lee"
    # Confirmed the afternoon before: the day is written, so it does not read as this afternoon.
    assert "Ride confirmed since Mon 4 Jan 15:00" in " ".join(tablet.locator("#ride-home + dl").inner_text().split())
    assert "Override reason" not in action_form(tablet, "Check in").inner_text(), "the ride home is confirmed"
    assert tablet.get_by_role("button", name="Start treatment").count() == 0
    action_form(tablet, "Check in").get_by_role("button", name="Check in").click()
    tablet.wait_for_load_state()
    assert notice(tablet) == "Checked in."
    assert "arrived 09:45" in tablet.locator("#times + dl").inner_text()
    assert tablet.locator(".page-head .badge.phase").inner_text() == "Arrived"
    assert action_form(tablet, "Check in").count() == 0

    # 09:50: the clinician marks the vital signs before the infusion, by keyboard alone (Tab to the button, Enter).
    clinic.clock.now = at("09:50")
    sign_in(floor_tablet, clinic.url, "dr.patel")
    floor_tablet.goto(page_url)
    before = checkpoint_item(floor_tablet, "Vital signs before the infusion")
    assert "Due" in before.inner_text()
    assert "Pending" in checkpoint_item(floor_tablet, "Vital signs at the end of the infusion").inner_text()
    assert action_form(floor_tablet, "Check in").count() == 0, "checking in is the front desk's step"
    floor_tablet.get_by_role("heading", name="Checkpoints").click()  # a place to start tabbing from
    mark_before = before.get_by_role("button", name="Mark done")
    for _ in range(10):
        floor_tablet.keyboard.press("Tab")
        if mark_before.evaluate("button => button === document.activeElement"):
            break
    else:
        pytest.fail("Tab never reached the checkpoint's button")
    assert mark_before.evaluate("button => button.matches(':focus-visible')"), "the keyboard focus is visible"
    # A key press, unlike a click, does not wait for the navigation it starts: wait for it explicitly.
    with floor_tablet.expect_navigation():
        floor_tablet.keyboard.press("Enter")
    assert notice(floor_tablet) == "Checkpoint marked done."
    assert "Done 09:50 by dr.patel" in " ".join(
        checkpoint_item(floor_tablet, "Vital signs before the infusion").inner_text().split()
    )

    # 09:55: treatment starts five minutes early; its times (and the checkpoints after it) move with it.
    clinic.clock.now = at("09:55")
    floor_tablet.get_by_role("button", name="Start treatment").click()
    floor_tablet.wait_for_load_state()
    assert notice(floor_tablet) == "Treatment started."
    times = floor_tablet.locator("#times + dl").inner_text()
    assert "09:55–10:40 · booked for 10:00" in times
    assert "earliest discharge 11:25" in times
    assert floor_tablet.locator(".page-head .badge.phase").inner_text() == "In treatment"

    # 10:10: the front desk looks at the page mid-treatment; the clinical steps are neither shown nor allowed.
    clinic.clock.now = at("10:10")
    tablet.goto(page_url)
    actions = tablet.locator(".column.actions")
    for name in ("Start treatment", "Discharge", "Mark done"):
        assert tablet.get_by_role("button", name=name).count() == 0, name
    assert action_form(tablet, "Discharge").count() == 0
    assert "Pending" in checkpoint_item(tablet, "Vital signs at the end of the infusion").inner_text()
    assert "Start treatment" not in actions.inner_text()
    token = tablet.locator("input[name=csrf_token]").first.input_value()  # the desk's own, valid (sign-out's form)
    for step in ("start-treatment", "checkpoints/vitals_end_of_infusion", "discharge"):
        answer = tablet.request.post(
            f"{page_url}/{step}", form={"csrf_token": token}, headers={"Referer": page_url}, max_redirects=0
        )
        assert answer.status == 403, (step, answer.status)
    answer = tablet.request.post(
        f"{page_url}/discharge",
        form={"csrf_token": token, "discharge_override": "The desk says she may go"},
        headers={"Referer": page_url},
        max_redirects=0,
    )
    assert answer.status == 403, "an override reason does not make the desk a clinician"

    # 10:20: the clinician tries to discharge too early; the refusal says why, next to the discharge form.
    clinic.clock.now = at("10:20")
    floor_tablet.goto(page_url)
    discharge = action_form(floor_tablet, "Discharge")
    discharge.get_by_role("button", name="Discharge").click()
    floor_tablet.wait_for_load_state()
    refusal = action_form(floor_tablet, "Discharge").get_by_role("alert")
    assert refusal.inner_text() == (
        "Monitoring lasts at least 45 minutes after the treatment ends: the patient may leave from 11:25. "
        "Still open: Vital signs at the end of the infusion; Vital signs before discharge. "
        "Give an override_reason to discharge anyway."
    )
    assert floor_tablet.locator(".page-head .badge.phase").inner_text() == "In treatment"
    assert "Pending" in checkpoint_item(floor_tablet, "Vital signs at the end of the infusion").inner_text()
    assert accessibility_problems(floor_tablet) == [], "the session page mid-treatment, with a refusal"
    floor_tablet.screenshot(path=tmp_path / "front-desk-session.png", full_page=True)
    keep(tmp_path / "front-desk-session.png", "front-desk-session.png")

    # 10:40: the checkpoint at the end of the infusion, when it is due.
    mark(clinic, floor_tablet, page_url, "10:40", "Vital signs at the end of the infusion")

    # 11:00, monitoring: still refused, the remaining checkpoint named.
    clinic.clock.now = at("11:00")
    floor_tablet.goto(page_url)
    assert floor_tablet.locator(".page-head .badge.phase").inner_text() == "Monitoring"
    action_form(floor_tablet, "Discharge").get_by_role("button", name="Discharge").click()
    floor_tablet.wait_for_load_state()
    assert action_form(floor_tablet, "Discharge").get_by_role("alert").inner_text() == (
        "Monitoring lasts at least 45 minutes after the treatment ends: the patient may leave from 11:25. "
        "Still open: Vital signs before discharge. Give an override_reason to discharge anyway."
    )

    # 11:15: the checkpoint before discharge, from ten minutes before it is due.
    mark(clinic, floor_tablet, page_url, "11:15", "Vital signs before discharge")

    # 11:25, the end of the minimum monitoring: discharged.
    clinic.clock.now = at("11:25")
    floor_tablet.goto(page_url)
    action_form(floor_tablet, "Discharge").get_by_role("button", name="Discharge").click()
    floor_tablet.wait_for_load_state()
    assert notice(floor_tablet) == "Discharged."
    assert floor_tablet.locator(".page-head .badge.phase").inner_text() == "Left"
    facts = floor_tablet.locator("#times + dl").inner_text()
    assert "left 11:25" in facts
    assert "Discharged" in facts
    assert floor_tablet.get_by_role("button", name="Discharge").count() == 0
    assert floor_tablet.get_by_role("button", name="Mark done").count() == 0
    assert accessibility_problems(floor_tablet) == [], "the session page after discharge"

    # The history, from the audit trail: each step with the staff member who took it (the booking was the API's).
    history = [" ".join(line.split()) for line in floor_tablet.locator("#timeline + ol li").all_inner_texts()]
    assert history == [
        "4 Jan 09:00 Session booked · service",
        "4 Jan 15:00 Ride confirmed · transport",
        "5 Jan 09:45 Session checked in · desk.ann",
        "5 Jan 09:50 Checkpoint done · dr.patel · Vital signs before the infusion",
        "5 Jan 09:55 Treatment started · dr.patel",
        "5 Jan 10:40 Checkpoint done · dr.patel · Vital signs at the end of the infusion",
        "5 Jan 11:15 Checkpoint done · dr.patel · Vital signs before discharge",
        "5 Jan 11:25 Session discharged · dr.patel",
    ]
    refused = "Failed to load resource: the server responded with a status of 409 (CONFLICT)"
    assert floor_tablet.complaints == [refused, refused], "the two refused discharges, and nothing the CSP refuses"
    assert tablet.complaints == [], "nothing the Content-Security-Policy refuses"
