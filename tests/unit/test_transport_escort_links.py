"""The escort's link and page: a signed token per ride and round; opening the link (GET, HEAD) changes nothing; one
POST with the page's form token answers; a used, expired, replaced or tampered link says so and changes nothing."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from unit.fakes_transport import FakeDirectory, transport_uow
from unit.test_transport_handlers import session_booked, session_cancelled, session_rescheduled

from services.transport import handlers
from services.transport.adapters.escort_tokens import BadToken, EscortTokens, LinkClaims
from services.transport.api.escort_pages import create_escort_pages
from services.transport.api.http import create_api
from services.transport.domain.escort import EscortAction, LinkState, link_state
from services.transport.domain.rides import RideStatus
from shared.web import create_service_app

START = datetime(2027, 1, 5, 14, 0, tzinfo=UTC)
PICKUP = START + timedelta(minutes=90)
NOW = START - timedelta(days=2)
ZONE = ZoneInfo("America/New_York")
SECRET = "test-link-secret"
AUTH = {"Authorization": "Bearer t"}


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def uow():
    uow = transport_uow()
    handlers.request_ride(session_booked(), uow=uow, now=NOW - timedelta(days=1))
    return uow


@pytest.fixture
def clock():
    return Clock(NOW)


@pytest.fixture
def directory():
    return FakeDirectory()


@pytest.fixture
def app(uow, clock, directory) -> Flask:
    tokens = EscortTokens(SECRET)
    app = create_service_app(
        __name__,
        create_api(uow_factory=uow, clock=clock, clinic_zone=ZONE, tokens=tokens, public_url="https://rides.example"),
        service_token="t",
        health=dict,
    )
    app.register_blueprint(
        create_escort_pages(uow_factory=uow, tokens=tokens, directory=directory, clinic_zone=ZONE, clock=clock)
    )
    return app


def the_ride(uow):
    [ride] = uow.rides.all
    return ride


def link_path(app, uow) -> str:
    response = app.test_client().get(f"/api/rides/{the_ride(uow).id}/escort-link", headers=AUTH)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["url"].removeprefix("https://rides.example")


def form_token_of(page: str) -> str:
    return page.split('name="form_token" value="')[1].split('"')[0]


# --- tokens --------------------------------------------------------------------------------------------------------


def test_a_link_token_names_the_ride_and_round_and_nothing_else_readable():
    tokens = EscortTokens(SECRET)

    token = tokens.link_token("ride-1", 3)

    assert tokens.read_link(token) == LinkClaims("ride-1", 3)
    assert "patient" not in token and "session" not in token


@pytest.mark.parametrize(
    "spoil",
    [lambda t: t[:-3], lambda t: t[:10], lambda t: t + "x", lambda t: "x" + t[1:], lambda t: "", lambda t: t * 20],
    ids=["truncated", "cut short", "extended", "first letter changed", "empty", "overlong"],
)
def test_a_tampered_link_token_is_refused(spoil):
    tokens = EscortTokens(SECRET)

    with pytest.raises(BadToken):
        tokens.read_link(spoil(tokens.link_token("ride-1", 1)))


def test_a_link_signed_with_another_secret_or_for_another_purpose_is_refused():
    tokens = EscortTokens(SECRET)
    claims = LinkClaims("ride-1", 1)

    with pytest.raises(BadToken):
        tokens.read_link(EscortTokens("another-secret").link_token("ride-1", 1))
    with pytest.raises(BadToken):
        tokens.read_link(tokens.form_token(claims))  # a form token is no link
    with pytest.raises(BadToken):
        tokens.check_form(tokens.link_token("ride-1", 1), claims)  # nor a link a form token
    with pytest.raises(BadToken):
        tokens.check_form(tokens.form_token(LinkClaims("ride-2", 1)), claims)  # another ride's form


# --- the rules of a link ---------------------------------------------------------------------------------------------


def test_a_link_is_open_until_the_pickup_time(uow):
    ride = the_ride(uow)

    assert link_state(ride, 1, now=PICKUP - timedelta(seconds=1)) is LinkState.OPEN
    assert link_state(ride, 1, now=PICKUP) is LinkState.EXPIRED


def test_a_link_of_an_earlier_round_is_replaced(uow):
    handlers.reschedule_rides(session_rescheduled(), uow=uow, now=NOW)

    assert link_state(the_ride(uow), 1, now=NOW) is LinkState.REPLACED
    assert link_state(the_ride(uow), 2, now=NOW) is LinkState.OPEN


# --- the API hands out the link ------------------------------------------------------------------------------------


def test_the_escort_link_is_a_public_url_that_expires_at_the_pickup_in_the_clinic_s_offset(app, uow):
    response = app.test_client().get(f"/api/rides/{the_ride(uow).id}/escort-link", headers=AUTH)

    body = response.get_json()
    assert response.status_code == 200
    assert body["url"].startswith("https://rides.example/rides/escort/")
    assert body["expires_at"] == "2027-01-05T10:30:00-05:00"


def test_no_link_is_handed_out_for_an_unknown_ride_or_one_that_waits_for_no_answer(app, uow):
    client = app.test_client()
    assert client.get("/api/rides/no-such-ride/escort-link", headers=AUTH).status_code == 404
    handlers.cancel_rides(session_cancelled(), uow=uow, now=NOW)

    response = client.get(f"/api/rides/{the_ride(uow).id}/escort-link", headers=AUTH)

    assert response.status_code == 409
    assert response.get_json()["reason"] == "not_awaiting_escort"


# --- the page ------------------------------------------------------------------------------------------------------


def test_opening_the_link_shows_the_clinic_the_pickup_and_the_first_name_and_changes_nothing(app, uow):
    client = app.test_client()
    path = link_path(app, uow)

    page = client.get(path)
    head = client.head(path)

    text = page.get_data(as_text=True)
    assert page.status_code == head.status_code == 200
    assert "Riverside Ketamine Clinic" in text and "1 Main Street, Springfield" in text
    assert "Tuesday 05 January 2027, 10:30" in text
    assert "Ann" in text and "Lee" not in text
    assert "Confirm pickup" in text and "I can't make it" in text
    assert "<script" not in text
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    assert "noindex" in page.headers["X-Robots-Tag"]
    assert the_ride(uow).status is RideStatus.REQUESTED
    assert [e.type for e in uow.published] == ["ride.requested"]


def test_the_confirm_button_confirms_once_and_a_second_post_says_the_link_was_used(app, uow):
    client = app.test_client()
    path = link_path(app, uow)
    token = form_token_of(client.get(path).get_data(as_text=True))

    first = client.post(path, data={"action": "confirm", "form_token": token})
    second = client.post(path, data={"action": "decline", "form_token": token})

    assert first.status_code == 200 and "confirmed" in first.get_data(as_text=True)
    assert second.status_code == 410 and "already used" in second.get_data(as_text=True)
    assert the_ride(uow).status is RideStatus.CONFIRMED
    assert [e.type for e in uow.published] == ["ride.requested", "ride.confirmed"]
    assert client.get(path).status_code == 410


def test_i_can_t_make_it_declines_the_ride_and_puts_it_at_risk_at_once(app, uow):
    client = app.test_client()
    path = link_path(app, uow)
    token = form_token_of(client.get(path).get_data(as_text=True))

    response = client.post(path, data={"action": "decline", "form_token": token})

    assert response.status_code == 200
    assert the_ride(uow).status is RideStatus.DECLINED
    assert [e.type for e in uow.published] == ["ride.requested", "ride.declined", "ride.at_risk"]
    assert uow.published[-1].data["at_risk"] == "declined"


@pytest.mark.parametrize(
    "form, status",
    [
        ({"action": "confirm"}, 400),
        ({"action": "confirm", "form_token": ""}, 400),
        ({"action": "confirm", "form_token": "forged"}, 403),
        ({"action": "maybe", "form_token": None}, 400),
        ({"form_token": None}, 400),
    ],
    ids=["no form token", "empty form token", "forged form token", "unknown action", "no action"],
)
def test_a_post_without_a_good_form_token_and_action_changes_nothing(app, uow, form, status):
    client = app.test_client()
    path = link_path(app, uow)
    token = form_token_of(client.get(path).get_data(as_text=True))
    form = {k: (token if v is None else v) for k, v in form.items()}

    response = client.post(path, data=form)

    assert response.status_code == status
    assert the_ride(uow).status is RideStatus.REQUESTED
    assert [e.type for e in uow.published] == ["ride.requested"]


def test_a_tampered_link_shows_a_plain_page_and_changes_nothing(app, uow):
    client = app.test_client()
    path = link_path(app, uow)
    token = form_token_of(client.get(path).get_data(as_text=True))

    for spoiled in (path[:-4], path + "AA", "/rides/escort/not-a-token"):
        assert client.get(spoiled).status_code == 404
        assert client.post(spoiled, data={"action": "confirm", "form_token": token}).status_code == 404
    assert [e.type for e in uow.published] == ["ride.requested"]


def test_a_link_opened_after_the_pickup_time_has_expired(app, uow, clock):
    client = app.test_client()
    path = link_path(app, uow)
    token = form_token_of(client.get(path).get_data(as_text=True))
    clock.now = PICKUP

    assert client.get(path).status_code == 410
    response = client.post(path, data={"action": "confirm", "form_token": token})

    assert response.status_code == 410 and "expired" in response.get_data(as_text=True)
    assert the_ride(uow).status is RideStatus.REQUESTED


def test_after_a_reschedule_the_old_link_says_it_was_replaced_and_the_new_one_asks_again(app, uow):
    client = app.test_client()
    old = link_path(app, uow)
    old_token = form_token_of(client.get(old).get_data(as_text=True))
    assert client.post(old, data={"action": "confirm", "form_token": old_token}).status_code == 200

    handlers.reschedule_rides(session_rescheduled(), uow=uow, now=NOW)
    new = link_path(app, uow)

    assert client.get(old).status_code == 410 and "replaced" in client.get(old).get_data(as_text=True)
    assert client.post(old, data={"action": "confirm", "form_token": old_token}).status_code == 410
    # The old page's form token is for the old round: it does not answer the new link either.
    assert client.post(new, data={"action": "confirm", "form_token": old_token}).status_code == 403
    new_token = form_token_of(client.get(new).get_data(as_text=True))
    assert client.post(new, data={"action": "confirm", "form_token": new_token}).status_code == 200
    assert [e.type for e in uow.published] == ["ride.requested", "ride.confirmed", "ride.rescheduled", "ride.confirmed"]


def test_a_link_of_a_cancelled_ride_is_refused_with_409(app, uow):
    client = app.test_client()
    path = link_path(app, uow)
    token = form_token_of(client.get(path).get_data(as_text=True))
    handlers.cancel_rides(session_cancelled(), uow=uow, now=NOW)

    response = client.post(path, data={"action": "confirm", "form_token": token})

    assert response.status_code == 409
    assert the_ride(uow).status is RideStatus.CANCELLED


def test_the_page_shows_no_name_when_the_scheduler_cannot_say_it(app, uow, directory):
    directory.names.clear()

    page = app.test_client().get(link_path(app, uow))

    assert page.status_code == 200
    assert "your companion" in page.get_data(as_text=True)


def test_escort_actions_are_the_two_buttons():
    assert {a.value for a in EscortAction} == {"confirm", "decline"}
