"""The ops page's parts that need no server: the queues' depth history (bounded, fresh samples reused, gaps where the
broker was away), the depth charts drawn as SVG points, and the services' probes over HTTP (a fake session)."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import requests

from services.scheduler.adapters.queue_history import QueueHistory
from services.scheduler.adapters.service_probes import ServiceProbes, service_urls
from services.scheduler.web.ops import sparkline

T0 = datetime(2027, 1, 5, 13, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Figures:
    name: str
    ready: int | None
    exists: bool = True


@dataclass(frozen=True)
class Snapshot:
    reachable: bool
    queues: tuple


@dataclass
class Inspector:
    depths: list[int | None]
    asked: int = 0

    def snapshot(self) -> Snapshot:
        depth = self.depths[min(self.asked, len(self.depths) - 1)]
        self.asked += 1
        if depth is None:
            return Snapshot(False, ())
        return Snapshot(True, (Figures("transport.events", depth),))


@dataclass
class Clocks:
    now: datetime = T0
    seconds: float = 0.0

    def wall(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.seconds

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.seconds += seconds


def history(inspector: Inspector, clocks: Clocks, keep=timedelta(minutes=1)) -> QueueHistory:
    return QueueHistory(inspector, interval=5, keep=keep, clock=clocks.wall, monotonic=clocks.monotonic)


def test_the_history_keeps_the_samples_of_the_last_minutes_only():
    clocks = Clocks()
    kept = history(Inspector(list(range(30))), clocks)

    for _ in range(30):
        kept.sample_once()
        clocks.advance(5)

    depths = kept.depths("transport.events")
    assert len(depths) == 13, "one minute of samples every 5 s, both ends included"
    assert [n for _at, n in depths][-1] == 29


def test_a_fresh_sample_is_reused_and_a_stale_one_taken_anew():
    clocks = Clocks()
    inspector = Inspector([1, 2, 3])
    kept = history(inspector, clocks)

    first = kept.current()
    clocks.advance(9)
    again = kept.current()
    clocks.advance(2)
    later = kept.current()

    assert again is first and inspector.asked == 2
    assert later.queues[0].ready == 2
    assert kept.refresh().queues[0].ready == 3, "a refresh asks the broker whatever the age of the latest"


def test_a_broker_away_leaves_a_gap_in_the_history():
    clocks = Clocks()
    kept = history(Inspector([4, None, 6]), clocks)

    for _ in range(3):
        kept.sample_once()
        clocks.advance(5)

    assert [n for _at, n in kept.depths("transport.events")] == [4, None, 6]


def test_a_chart_scales_the_depths_to_its_height_and_breaks_at_a_gap():
    depths = [(T0 + timedelta(seconds=5 * i), n) for i, n in enumerate([0, 10, None, 5, 5])]

    chart = sparkline(depths, width=40, height=24)

    assert chart.lines == ("0.0,22.0 10.0,2.0", "30.0,12.0 40.0,12.0")
    assert (chart.highest, chart.latest, chart.samples) == (10, 5, 5)


def test_a_chart_of_a_single_known_point_draws_a_dot_and_an_empty_one_nothing():
    assert sparkline([(T0, 3), (T0, None)], width=10, height=10).lines == ("0.0,2.0 0.0,2.0",)
    assert sparkline([]).lines == ()


@dataclass
class FakeResponse:
    status_code: int
    document: object

    def json(self):
        if self.document is None:
            raise ValueError("not JSON")
        return self.document


@dataclass
class FakeSession:
    answers: dict = field(default_factory=dict)
    asked: list = field(default_factory=list)

    def get(self, url: str, timeout):
        self.asked.append((url, timeout))
        answer = self.answers[url]
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_each_service_is_probed_at_its_readyz_with_a_short_timeout_and_the_scheduler_in_process():
    session = FakeSession(
        {
            "http://t/readyz": FakeResponse(200, {"status": "ready", "checks": {"database": {"ok": True}}}),
            "http://n/readyz": requests.ConnectTimeout("slow"),
        }
    )
    probes = ServiceProbes(
        {"transport": "http://t", "notifications": "http://n"},
        local=lambda: (503, {"status": "not_ready", "checks": {"broker": {"ok": False, "detail": "unreachable"}}}),
        session=session,  # type: ignore[arg-type]
    )

    states = {state.name: state for state in probes.states()}

    assert list(states) == ["scheduler", "transport", "notifications"]
    assert (states["scheduler"].ready, states["scheduler"].problems) == (False, ("broker: unreachable",))
    assert states["transport"].ready is True
    assert (states["notifications"].reachable, states["notifications"].error) == (False, "timed out")
    assert all(timeout == (0.5, 1.5) for _url, timeout in session.asked)


def test_an_answer_that_is_not_json_reads_as_not_ready():
    session = FakeSession({"http://t/readyz": FakeResponse(502, None)})

    [state] = ServiceProbes({"transport": "http://t"}, session=session).states()  # type: ignore[arg-type]

    assert (state.reachable, state.ready) == (True, False)
    assert "502" in (state.error or "")


def test_the_services_urls_come_from_settings_or_their_local_defaults():
    assert service_urls({}) == {"transport": "http://127.0.0.1:8002", "notifications": "http://127.0.0.1:8003"}
    assert service_urls({"TRANSPORT_URL": "http://transport:8000/"})["transport"] == "http://transport:8000"
