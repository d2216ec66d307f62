"""The notifications service asks the scheduler for contact details by id: the id is checked and encoded before it
becomes part of a URL, and every request is bounded in time."""

import pytest

from services.notifications.adapters.scheduler_directory import TIMEOUT, SchedulerDirectory, SchedulerUnavailable
from services.notifications.domain.contacts import ContactUnavailable


class Answer:
    def __init__(self, status_code: int, document: dict | None = None):
        self.status_code = status_code
        self._document = document or {}

    def json(self):
        return self._document


class RecordingSession:
    """Stands in for requests.Session: records each URL and answers a stored patient."""

    def __init__(self, answer: Answer):
        self.answer = answer
        self.urls: list[str] = []

    def get(self, url):
        self.urls.append(url)
        return self.answer


PATIENT = {"id": "p-1", "name": "Ann Lee", "phone": "+14155550123", "email": None, "preferred_channel": "sms"}


@pytest.mark.parametrize("patient_id", ["../clinic", "p-1/../../clinic", "p-1?x=1", "p 1", "p-1\n", "%2e%2e", ""])
def test_an_id_that_is_not_an_id_never_becomes_a_request(patient_id):
    session = RecordingSession(Answer(200, PATIENT))
    directory = SchedulerDirectory("http://scheduler.test", "token", session=session)

    with pytest.raises(ContactUnavailable):
        directory.contact(patient_id)

    assert session.urls == []


def test_a_valid_id_is_asked_for_under_the_patients_path():
    session = RecordingSession(Answer(200, PATIENT))
    directory = SchedulerDirectory("http://scheduler.test/", "token", session=session)

    contact = directory.contact("p-1")

    assert session.urls == ["http://scheduler.test/api/patients/p-1"]
    assert contact.phone == "+14155550123"


def test_a_scheduler_that_answers_503_is_unavailable_so_the_event_is_tried_again_later():
    directory = SchedulerDirectory("http://scheduler.test", "token", session=RecordingSession(Answer(503)))

    with pytest.raises(SchedulerUnavailable):
        directory.contact("p-1")


def test_each_request_to_the_scheduler_is_bounded_well_within_the_brokers_heartbeat():
    directory = SchedulerDirectory("http://scheduler.test", "token")
    adapter = directory._session.get_adapter("http://scheduler.test")

    connect, read = TIMEOUT
    attempts = adapter.max_retries.total + 1
    assert adapter._timeout == TIMEOUT
    assert attempts * (connect + read) < 30, "the consumer's heartbeat is 30 s"
