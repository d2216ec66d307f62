"""Notifications asks transport for the escort's link and the scheduler for the session (with its escort) and its
calendar when a message is sent: ids checked and encoded before they become part of a URL, each request bounded in
time, and every answer sorted into send, skip or retry."""

import pytest
import requests

from services.notifications.adapters.scheduler_directory import SchedulerDirectory, SchedulerUnavailable
from services.notifications.adapters.transport_links import TransportLinks, TransportUnavailable
from services.notifications.domain.contacts import SessionUnknown
from services.notifications.domain.rides import NoLongerAwaitingEscort

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

    with pytest.raises(NoLongerAwaitingEscort):
        adapter.escort_link(ride_id)

    assert session.urls == []


def test_each_request_to_transport_is_bounded_so_the_delivery_worker_is_held_up_for_seconds_at_most():
    adapter = TransportLinks("http://transport.test", "token")._session.get_adapter("http://transport.test")

    connect, read = adapter._timeout
    assert (adapter.max_retries.total + 1) * (connect + read) < 30


# --- the scheduler's escort -----------------------------------------------------------------------------------------


SESSION = {
    "id": "session-1",
    "patient_id": "patient-1",
    "status": "booked",
    "treatment_type": "iv_infusion",
    "starts_at": "2027-01-05T09:00:00-05:00",
    "treatment_ends_at": "2027-01-05T09:45:00-05:00",
    "recovery_ends_at": "2027-01-05T10:30:00-05:00",
    "discharged_at": None,
    "ride_home": {"mode": "escort", "escort_name": "Bo Lee", "escort_phone": "+14155550124"},
}


def directory(answer) -> tuple[SchedulerDirectory, RecordingSession]:
    session = RecordingSession(answer)
    return SchedulerDirectory("http://scheduler.test", "token", session=session), session


def test_the_escort_is_the_one_the_session_names_now():
    adapter, session = directory(Answer(200, SESSION))

    facts = adapter.session("session-1")
    escort = facts.escort

    assert session.urls == ["http://scheduler.test/api/sessions/session-1"]
    assert (facts.status, facts.treatment_type, facts.ride_mode) == ("booked", "iv_infusion", "escort")
    assert facts.pickup_at.isoformat() == "2027-01-05T10:30:00-05:00"
    assert escort is not None
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

    assert adapter.session("session-1").escort is None


def test_a_session_the_scheduler_does_not_know_is_unknown():
    adapter, _ = directory(Answer(404))

    with pytest.raises(SessionUnknown):
        adapter.session("session-1")


def test_a_scheduler_that_answers_503_for_the_session_is_unavailable_so_the_message_waits():
    adapter, _ = directory(Answer(503))

    with pytest.raises(SchedulerUnavailable):
        adapter.session("session-1")


def test_the_calendar_is_the_sessions_ics_as_the_scheduler_gives_it():
    answer = Answer(200)
    answer.content = b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
    adapter, session = directory(answer)

    assert adapter.calendar("session-1") == b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
    assert session.urls == ["http://scheduler.test/api/sessions/session-1.ics"]


@pytest.mark.parametrize("session_id", ["../clinic", "s-1/../../clinic", "s-1?x=1", "%2e%2e", ""])
def test_a_session_id_that_is_not_an_id_never_becomes_a_request(session_id):
    adapter, session = directory(Answer(200, SESSION))

    with pytest.raises(SessionUnknown):
        adapter.session(session_id)
    with pytest.raises(SessionUnknown):
        adapter.calendar(session_id)

    assert session.urls == []


def test_the_clinics_address_is_taken_when_its_configuration_gives_one():
    clinic = {"name": "Riverside", "time_zone": "America/New_York", "treatment_types": [], "arrival_minutes_before": 15}
    with_address, _ = directory(Answer(200, {**clinic, "address": "12 River Rd"}))
    without, _ = directory(Answer(200, clinic))

    assert with_address.clinic().address == "12 River Rd"
    assert without.clinic().address is None


def test_a_patients_language_and_opt_out_are_taken_with_english_and_no_opt_out_when_the_scheduler_gives_none():
    patient = {"id": "p-1", "name": "Ana Ruiz", "phone": "+14155550123", "email": None, "preferred_channel": "sms"}
    spanish, _ = directory(Answer(200, {**patient, "language": "es", "reminders_opt_out": True}))
    older, _ = directory(Answer(200, patient))

    assert (spanish.contact("p-1").language, spanish.contact("p-1").reminders_opt_out) == ("es", True)
    assert (older.contact("p-1").language, older.contact("p-1").reminders_opt_out) == ("en", False)
