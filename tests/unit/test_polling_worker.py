"""The loop every row-taking worker runs: a round now and then, at once when nudged, on after a failed round."""

import threading
import time

from integration.helpers import eventually

from shared.polling import PollingWorker


class Rounds:
    def __init__(self, failures: int = 0):
        self.failures = failures
        self.count = 0
        self.lock = threading.Lock()

    def __call__(self) -> None:
        with self.lock:
            self.count += 1
            if self.count <= self.failures:
                raise ConnectionError("database restarting")


def running(worker: PollingWorker) -> threading.Thread:
    thread = threading.Thread(target=worker.run_until_stopped, daemon=True)
    thread.start()
    return thread


def test_a_nudge_works_a_round_at_once_instead_of_after_the_poll_interval():
    rounds = Rounds()
    worker = PollingWorker("test worker", rounds, poll_interval=3600)
    thread = running(worker)
    eventually(lambda: rounds.count == 1, what="the first round")

    worker.notify()

    eventually(lambda: rounds.count == 2, what="a round right after the nudge")
    worker.stop()
    thread.join(5)
    assert not thread.is_alive()


def test_a_round_that_fails_is_followed_by_another_after_a_pause_and_the_worker_goes_on(caplog):
    rounds = Rounds(failures=2)
    worker = PollingWorker("test worker", rounds, poll_interval=0.01)
    thread = running(worker)

    eventually(lambda: rounds.count >= 4, what="rounds after the failures")
    worker.stop()
    thread.join(5)

    assert not thread.is_alive()
    paused = [r.getMessage() for r in caplog.records if "paused" in r.getMessage()]
    assert paused[:2] == ["test worker paused: ConnectionError"] * 2, "named by type, never by its text"


def test_stopping_wakes_a_worker_waiting_for_its_poll_interval():
    worker = PollingWorker("test worker", Rounds(), poll_interval=3600)
    thread = running(worker)
    time.sleep(0.05)

    worker.stop()
    thread.join(5)

    assert not thread.is_alive()
