"""The escort's page in a real browser: it shows the pickup and two buttons on a phone's screen, loads nothing the
policy refuses, and the confirm button confirms the ride once; the link opened again says it was answered."""

import pytest
import requests
from integration.test_transport_escort_and_at_risk import book, link, uow_of

from services.transport import handlers
from services.transport.domain.rides import RideStatus

pytestmark = pytest.mark.e2e


def test_an_escort_confirms_the_pickup_with_the_button_and_the_ride_is_confirmed_once(served, phone, tmp_path):
    runtime, engine = served
    _, ride = book(engine)
    url = link(runtime, ride.id)

    phone.goto(url)
    phone.screenshot(path=tmp_path / "escort-page.png", full_page=True)
    assert phone.locator("h1").inner_text() == "Can you drive Ann home?"
    assert "1 Main Street, Springfield" in phone.locator("dl").inner_text()
    confirm = phone.get_by_role("button", name="Confirm pickup")
    decline = phone.get_by_role("button", name="I can't make it")
    assert confirm.bounding_box()["height"] >= 44, "a button a thumb can hit"
    assert decline.is_visible()
    assert handlers.get_ride(ride.id, uow=uow_of(engine)).status is RideStatus.REQUESTED, "opening changes nothing"

    confirm.click()
    phone.wait_for_load_state()
    assert phone.locator("h1").inner_text() == "Thank you"
    assert handlers.get_ride(ride.id, uow=uow_of(engine)).status is RideStatus.CONFIRMED
    assert phone.complaints == [], "the pages load nothing their Content-Security-Policy refuses"

    phone.goto(url)
    assert phone.locator("h1").inner_text() == "Already answered"
    assert phone.get_by_role("button").count() == 0
    assert requests.get(url, timeout=5).status_code == 410


def test_an_escort_who_cannot_come_says_so_and_the_ride_is_declined(served, phone):
    runtime, engine = served
    _, ride = book(engine)

    phone.goto(link(runtime, ride.id))
    phone.get_by_role("button", name="I can't make it").click()
    phone.wait_for_load_state()

    assert phone.locator("h1").inner_text() == "Thank you for telling us"
    assert handlers.get_ride(ride.id, uow=uow_of(engine)).status is RideStatus.DECLINED
