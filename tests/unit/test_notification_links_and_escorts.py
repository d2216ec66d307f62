"""Notifications asks transport for the escort's link and the scheduler for the escort: ids checked and encoded
before they become part of a URL, each request bounded in time, and every answer sorted into send, skip or retry."""

import pytest
import requests

from services.notifications.adapters.scheduler_directory import SchedulerDirectory, SchedulerUnavailable
from services.notifications.adapters.transport_links import TransportLinks, TransportUnavailable
from services.notifications.domain.contacts import EscortUnavailable
from services.notifications.domain.rides import NoLongerAwaitingEscort
from shared.messaging.errors import PoisonMessage

LINK = "https://rides.example.test/escort/eyJyaWRlIjoicmlkZS0xIn0.secret-signature"


class Answer:
    def __init__(self, status_code: int, document=None):
        self.status_code = status_code
        self._document = document

    def json(self):
        if self._document is None:
            raise ValueError("no JSON")
        return self._document


class RecordingSession:
    """Stands in for requests.Session: records each URL and gives the stored answer (or raises it)."""

    def __init__(self, answer):
        self.answer = answer
        self.urls: list[str] = []

    def get(self, url):
        self.urls.append(url)
        if isinstance(answer := self.answer, Exception):
            raise answer
        return answer


def links(answer) -> tuple[TransportLinks, RecordingSession]:
    session = RecordingSession(answer)
    return TransportLinks("http://transport.test/", "token", session=session), session


# --- transport's link -----------------------------------------------------------------------------------------------


def test_a_link_is_asked_for_under_the_rides_path_and_given_with_its_expiry():
    adapter, session = links(Answer(200, {"url": LINK, "expires_at": "2027-01-05T10:30:00-05:00"}))

    link = adapter.escort_link("ride-1")

    assert session.urls == ["http://transport.test/api/rides/ride-1/escort-link"]
    assert link.url == LINK
    assert link.expires_at.isoformat() == "2027-01-05T10:30:00-05:00"


def test_a_ride_that_no_longer_waits_for_its_escort_is_said_so():
    adapter, _ = links(Answer(409, {"error": "ride_not_awaiting_escort"}))

    with pytest.raises(NoLongerAwaitingEscort):
        adapter.escort_link("ride-1")


@pytest.mark.parametrize(
    "answer",
    [Answer(404), Answer(500), Answer(503), requests.ConnectionError("refused"), requests.ReadTimeout("slow")],
    ids=["unknown yet", "failing", "unavailable", "unreachable", "too slow"],
)
def test_a_ride_unknown_yet_or_a_transport_that_fails_is_a_passing_failure(answer):
    adapter, _ = links(answer)

    with pytest.raises(TransportUnavailable):
        adapter.escort_link("ride-1")


@pytest.mark.parametrize(
    "document",
    [
        None,
        {},
        {"url": None},
        {"url": "javascript:alert(1)"},
        {"url": LINK + "\n"},
        {"url": LINK, "expires_at": "soon"},
    ],
)
def test_an_answer_without_a_usable_link_is_a_passing_failure_that_does_not_quote_the_answer(document):
    adapter, _ = links(Answer(200, document))

    with pytest.raises(TransportUnavailable) as raised:
        adapter.escort_link("ride-1")

    assert "secret-signature" not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


@pytest.mark.parametrize("ride_id", ["../clinic", "ride-1/../../x", "ride-1?x=1", "r 1", "ride-1\n", ""])
def test_a_ride_id_that_is_not_an_id_never_becomes_a_request(ride_id):
    adapter, session = links(Answer(200, {"url": LINK}))

    with pytest.raises(PoisonMessage):
        adapter.escort_link(ride_id)

    assert session.urls == []


def test_each_request_to_transport_is_bounded_well_within_the_brokers_heartbeat():
    adapter = TransportLinks("http://transport.test", "token")._session.get_adapter("http://transport.test")

    connect, read = adapter._timeout
    assert (adapter.max_retries.total + 1) * (connect + read) < 30, "the consumer's heartbeat is 30 s"


# --- the scheduler's escort -----------------------------------------------------------------------------------------


SESSION = {
    "id": "session-1",
    "patient_id": "patient-1",
    "ride_home": {"mode": "escort", "escort_name": "Bo Lee", "escort_phone": "+14155550124"},
}


def directory(answer) -> tuple[SchedulerDirectory, RecordingSession]:
    session = RecordingSession(answer)
    return SchedulerDirectory("http://scheduler.test", "token", session=session), session


def test_the_escort_is_the_one_the_session_names_now():
    adapter, session = directory(Answer(200, SESSION))

    escort = adapter.escort("session-1")

    assert session.urls == ["http://scheduler.test/api/sessions/session-1"]
    assert (escort.name, escort.phone, escort.patient_id) == ("Bo Lee", "+14155550124", "patient-1")
    assert escort.address_for("sms") == "+14155550124"
    assert escort.address_for("email") is None


@pytest.mark.parametrize(
    "document",
    [
        {**SESSION, "ride_home": {"mode": "none", "escort_name": None, "escort_phone": None}},
        {**SESSION, "ride_home": {"mode": "provider"}},
        {**SESSION, "ride_home": None},
    ],
    ids=["no ride home", "a provider ride", "no ride home at all"],
)
def test_a_session_that_names_no_escort_has_nobody_to_send_to(document):
    adapter, _ = directory(Answer(200, document))

    with pytest.raises(EscortUnavailable):
        adapter.escort("session-1")


def test_a_session_the_scheduler_does_not_know_has_nobody_to_send_to():
    adapter, _ = directory(Answer(404))

    with pytest.raises(EscortUnavailable):
        adapter.escort("session-1")


def test_a_scheduler_that_answers_503_for_the_escort_is_unavailable_so_the_event_is_tried_again():
    adapter, _ = directory(Answer(503))

    with pytest.raises(SchedulerUnavailable):
        adapter.escort("session-1")


@pytest.mark.parametrize("session_id", ["../clinic", "s-1/../../clinic", "s-1?x=1", "%2e%2e", ""])
def test_a_session_id_that_is_not_an_id_never_becomes_a_request(session_id):
    adapter, session = directory(Answer(200, SESSION))

    with pytest.raises(EscortUnavailable):
        adapter.escort(session_id)

    assert session.urls == []


def test_the_clinics_address_is_taken_when_its_configuration_gives_one():
    clinic = {"name": "Riverside", "time_zone": "America/New_York", "treatment_types": [], "arrival_minutes_before": 15}
    with_address, _ = directory(Answer(200, {**clinic, "address": "12 River Rd"}))
    without, _ = directory(Answer(200, clinic))

    assert with_address.clinic().address == "12 River Rd"
    assert without.clinic().address is None
