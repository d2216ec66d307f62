"""``python -m services.scheduler dead-letters list|replay|discard``: for scripts, with a fake of the dead-letter queues;
each replay and discard audited under the actor "cli", clear exit codes for ids not found and a broker away."""

import io
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text

from services.scheduler.cli import EXIT_NOT_FOUND, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE, run_command
from shared.messaging.dead_letters import BrokerUnavailable, DeadLetter, DeadLetterOutcome
from shared.settings import Settings

NOW = datetime(2027, 1, 5, 13, 0, tzinfo=UTC)
DLQ = "transport.events.dlq"


class FakeDeadLetters:
    def __init__(self, event_ids: list[str]):
        self.queued = {DLQ: list(event_ids)}
        self.calls: list[tuple] = []
        self.away = False

    def queues(self) -> tuple[str, ...]:
        return ("scheduler.events.dlq", DLQ, "notifications.events.dlq")

    def list(self, queue: str, *, limit: int = 500) -> list[DeadLetter]:
        return [
            DeadLetter(
                i, "session.booked", f"session-{i}", "refused: no such session", 1, 0, "transport.events", None, None
            )
            for i in self.queued.get(queue, [])[:limit]
        ]

    def _take(self, queue: str, event_ids) -> DeadLetterOutcome:
        if self.away:
            raise BrokerUnavailable("connection refused", DeadLetterOutcome(done=(), not_found=()))
        queued = self.queued.get(queue, [])
        wanted = list(queued) if event_ids is None else list(event_ids)
        done = tuple(i for i in wanted if i in queued)
        self.queued[queue] = [i for i in queued if i not in done]
        return DeadLetterOutcome(done=done, not_found=tuple(i for i in wanted if i not in done))

    def replay(self, queue, event_ids):
        self.calls.append(("replay", queue, event_ids))
        return self._take(queue, event_ids)

    def discard(self, queue, event_ids, reason):
        self.calls.append(("discard", queue, event_ids, reason))
        return self._take(queue, event_ids)


@pytest.fixture
def database_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'scheduler.sqlite3'}"


@pytest.fixture
def queues() -> FakeDeadLetters:
    return FakeDeadLetters(["e-1", "e-2", "e-3"])


@pytest.fixture
def run(database_url, queues):
    def run(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        settings = Settings(
            service="scheduler",
            broker_url="memory://",
            database_url=database_url,
            port=0,
            service_token="t",
            scheduler_url="http://127.0.0.1:1",
        )
        code = run_command(
            list(argv), stdout=out, stderr=err, settings=settings, clock=lambda: NOW, dead_letters=queues
        )
        return code, out.getvalue(), err.getvalue()

    return run


def audited(database_url: str) -> list[tuple]:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT actor_name, action, subject_id, detail FROM audit_entries ORDER BY id"))
        return [tuple(row) for row in rows]


def test_the_list_is_one_json_object_per_dead_letter_for_scripts(run, queues):
    code, out, _ = run("dead-letters", "list", "--queue", DLQ)

    assert code == EXIT_OK
    letters = [json.loads(line) for line in out.splitlines()]
    assert [(d["event_id"], d["session_id"], d["reason"]) for d in letters] == [
        ("e-1", "session-e-1", "refused: no such session"),
        ("e-2", "session-e-2", "refused: no such session"),
        ("e-3", "session-e-3", "refused: no such session"),
    ]
    assert queues.calls == [], "listing changes nothing"


def test_replaying_chosen_ids_is_audited_as_the_cli(run, queues, database_url):
    code, out, _ = run("dead-letters", "replay", "--queue", DLQ, "--event-id", "e-1", "--event-id", "e-3")

    assert code == EXIT_OK
    assert out == f"Replayed 2 from {DLQ}: e-1 e-3\n"
    assert queues.calls == [("replay", DLQ, ["e-1", "e-3"])]
    assert audited(database_url) == [
        ("cli", "dead_letter_replayed", "e-1", f"from {DLQ}"),
        ("cli", "dead_letter_replayed", "e-3", f"from {DLQ}"),
    ]


def test_discarding_all_with_a_reason_is_audited_with_the_reason(run, queues, database_url):
    code, out, _ = run("dead-letters", "discard", "--queue", DLQ, "--all", "--reason", "test  bookings")

    assert code == EXIT_OK
    assert queues.calls == [("discard", DLQ, None, "test bookings")]
    assert [row[2] for row in audited(database_url)] == ["e-1", "e-2", "e-3"]
    assert {row[3] for row in audited(database_url)} == {f"from {DLQ}: test bookings"}


def test_ids_not_in_the_queue_are_named_with_their_own_exit_code(run):
    code, out, err = run("dead-letters", "replay", "--queue", DLQ, "--event-id", "e-2", "--event-id", "gone")

    assert code == EXIT_NOT_FOUND
    assert out == f"Replayed 1 from {DLQ}: e-2\n"
    assert err == f"Not in {DLQ}: gone\n"


@pytest.mark.parametrize(
    "argv",
    [
        ("dead-letters", "replay", "--queue", DLQ),
        ("dead-letters", "replay", "--queue", DLQ, "--all", "--event-id", "e-1"),
        ("dead-letters", "replay", "--queue", "transport.events", "--all"),
        ("dead-letters", "discard", "--queue", DLQ, "--all"),
        ("dead-letters", "discard", "--queue", DLQ, "--all", "--reason", "   "),
        ("dead-letters", "purge", "--queue", DLQ),
    ],
)
def test_a_command_that_does_not_say_exactly_what_to_do_is_refused_and_changes_nothing(run, queues, database_url, argv):
    code, _, _ = run(*argv)

    assert code == EXIT_USAGE
    assert queues.calls == []
    assert queues.queued[DLQ] == ["e-1", "e-2", "e-3"]


def test_a_broker_away_has_its_own_exit_code(run, queues):
    queues.away = True

    code, _, err = run("dead-letters", "replay", "--queue", DLQ, "--all")

    assert code == EXIT_UNAVAILABLE
    assert "The broker did not answer" in err
