"""Hand-written fakes for unit tests: units of work that keep everything in memory."""
from shared.contract import Event


class FakeOutbox:
    def __init__(self):
        self.events: list[Event] = []
        self.added: list[Event] = []

    def add(self, events) -> None:
        self.added.extend(events)


class FakeInbox:
    def __init__(self):
        self.processed: set[str] = set()
        self.pending: set[str] = set()

    def already_processed(self, event: Event) -> bool:
        return event.event_id in self.processed

    def record(self, event: Event) -> None:
        self.pending.add(event.event_id)


class FakeUnitOfWork:
    """Commits move what was added into what is kept; leaving without commit throws it away."""

    def __init__(self, **repositories):
        self.outbox = FakeOutbox()
        self.inbox = FakeInbox()
        self.committed = 0
        self.reading_only = False
        for name, repository in repositories.items():
            setattr(self, name, repository)

    def __call__(self):
        return self

    def read_only(self):
        self.reading_only = True
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.outbox.added.clear()
        self.inbox.pending.clear()
        self.reading_only = False

    def commit(self) -> None:
        assert not self.reading_only, "a unit of work opened to read only may not commit"
        self.outbox.events.extend(self.outbox.added)
        self.outbox.added.clear()
        self.inbox.processed |= self.inbox.pending
        self.inbox.pending.clear()
        self.committed += 1

    @property
    def published(self) -> list[Event]:
        return self.outbox.events
