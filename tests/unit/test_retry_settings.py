"""How long a failing event is tried again is a setting of each consuming service: an hour unless told otherwise."""

import pytest

from shared.messaging import RetryPolicy
from shared.messaging.redelivery import FailureHistory
from shared.settings import Settings


def test_an_event_is_tried_again_for_an_hour_by_default():
    assert Settings.from_environment("transport", {}).retry_window_seconds == 3600


def test_the_retry_window_is_read_from_retry_window_seconds():
    assert Settings.from_environment("notifications", {"RETRY_WINDOW_SECONDS": "7200"}).retry_window_seconds == 7200


@pytest.mark.parametrize("text", ["an hour", "0", "-5"])
def test_a_retry_window_that_is_not_a_positive_number_of_seconds_is_refused_at_start(text):
    with pytest.raises(ValueError, match="RETRY_WINDOW_SECONDS"):
        Settings.from_environment("transport", {"RETRY_WINDOW_SECONDS": text})


def test_delays_grow_round_after_round_and_the_last_one_repeats_until_the_window_has_passed():
    policy = RetryPolicy(delays=(2, 10, 30, 60), window=3600)
    headers: dict = {}
    delays = []
    now = 1_000_000.0
    while True:
        history = FailureHistory.after_failure(headers, now)
        delay = policy.delay_before_next_round(history, now)
        if delay is None:
            break
        delays.append(delay)
        headers = history.headers("ConnectionError")
        now += delay

    assert delays[:5] == [2, 10, 30, 60, 60]
    assert set(delays[3:]) == {60}
    assert 3600 <= sum(delays) < 3600 + 60, "given up once the hour since the first failure is over, not before"


@pytest.mark.parametrize("garbage", [{"x-retry-rounds": "7", "x-first-failed-at": "yesterday"}, {"x-retry-rounds": -3}])
def test_retry_headers_a_client_mangled_count_as_a_first_failure(garbage):
    history = FailureHistory.after_failure(garbage, 500.0)

    assert history == FailureHistory(rounds=1, first_failed_at=500.0)
