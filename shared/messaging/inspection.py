"""Queue figures for ops: how deep each queue of the topology is, who consumes it, how fast messages flow.

Where the figures come from, chosen once by ``queue_inspector``:

- ``"management"``: the RabbitMQ management HTTP API (``GET /api/queues/{vhost}``), when its URL is configured.
  It gives ready and unacknowledged messages, consumers, and publish and deliver rates. Its figures lag the broker
  by its statistics interval (5 s by default), and a queue created a moment ago may show no figures yet (None).
- ``"amqp"``: passive queue declarations on an AMQP connection, otherwise. They give the messages ready and the
  consumers of each queue; unacknowledged messages and rates are unknown (None).
- ``"in-memory"``: kombu's in-memory transport of the embedded default, which knows the depth of each queue in this
  process only, and nothing of its consumers.

A broker that cannot be reached gives a snapshot that says so (``reachable=False`` and a short ``error`` naming the
failure by its type, never a URL or a credential): taking a snapshot never raises and never retries.
"""

import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote, unquote, urlsplit

import requests

from shared.redaction import describe

from .broker import connect, is_amqp
from .topology import Topology

log = logging.getLogger(__name__)

WORK = "work"
DEAD_LETTERS = "dead_letters"
RETRY = "retry"


@dataclass(frozen=True)
class QueueFigures:
    name: str
    kind: str  # "work" | "dead_letters" | "retry"
    of_queue: str  # the work queue it belongs to (itself for a work queue)
    ready: int | None
    unacknowledged: int | None  # None where the source cannot tell (AMQP passive, in-memory)
    consumers: int | None
    publish_rate: float | None  # messages/s, management API only
    deliver_rate: float | None
    exists: bool = True


@dataclass(frozen=True)
class BrokerSnapshot:
    source: str  # "management" | "amqp" | "in-memory"
    reachable: bool
    error: str | None  # a short description when not reachable (never credentials)
    taken_at: datetime  # aware UTC
    queues: tuple[QueueFigures, ...]

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "reachable": self.reachable,
            "error": self.error,
            "taken_at": self.taken_at.isoformat(),
            "queues": [asdict(figures) for figures in self.queues],
        }


class QueueInspector(Protocol):
    def snapshot(self) -> BrokerSnapshot: ...


def queue_inspector(
    broker_url: str,
    topology: Topology,
    *,
    management_url: str | None = None,
    management_user: str | None = None,
    management_password: str | None = None,
    timeout: float = 3.0,
) -> QueueInspector:
    """The inspector for this configuration: the management API if its URL is given, else the broker itself."""
    if management_url:
        auth = (management_user, management_password or "") if management_user is not None else None
        return ManagementApiInspector(management_url, virtual_host(broker_url), topology, auth=auth, timeout=timeout)
    if is_amqp(broker_url):
        return PassiveDeclareInspector(broker_url, topology, source="amqp", timeout=timeout)
    return PassiveDeclareInspector(broker_url, topology, source="in-memory", timeout=timeout)


def topology_queues(topology: Topology) -> Iterator[tuple[str, str, str]]:
    """(name, kind, work queue) of every queue the topology declares, each work queue followed by its own."""
    for spec in topology.queues:
        yield spec.name, WORK, spec.name
        if spec.dead_letters:
            yield spec.dead_letter_queue, DEAD_LETTERS, spec.name
            yield spec.retry_queue, RETRY, spec.name


def virtual_host(broker_url: str) -> str:
    """The vhost an AMQP URL names: its path, percent-decoded; ``/`` when it names none (``amqp://host`` or ``//``)."""
    path = urlsplit(broker_url).path
    name = unquote(path[1:]) if path.startswith("/") else unquote(path)
    return name or "/"


def _now() -> datetime:
    return datetime.now(UTC)


def _unreachable(source: str, error: str) -> BrokerSnapshot:
    return BrokerSnapshot(source=source, reachable=False, error=error, taken_at=_now(), queues=())


class PassiveDeclareInspector:
    """Figures from passive queue declarations: messages ready and consumers (consumers unknown in memory)."""

    def __init__(self, broker_url: str, topology: Topology, *, source: str, timeout: float):
        self._broker_url = broker_url
        self._topology = topology
        self._source = source
        self._timeout = timeout

    def snapshot(self) -> BrokerSnapshot:
        try:
            queues = tuple(self._figures())
        except Exception as exc:
            log.warning("queue figures unavailable from the broker: %s", describe(exc))
            return _unreachable(self._source, f"broker unreachable: {describe(exc)}")
        return BrokerSnapshot(source=self._source, reachable=True, error=None, taken_at=_now(), queues=queues)

    def _figures(self) -> list[QueueFigures]:
        connection = connect(
            self._broker_url,
            connect_timeout=self._timeout,
            read_timeout=self._timeout,
            write_timeout=self._timeout,
        )
        try:
            # One attempt: a snapshot is taken again soon enough, and a page must not wait on a broker that is down.
            connection.ensure_connection(max_retries=0)
            channel = connection.channel()
            figures: list[QueueFigures] = []
            for name, kind, of_queue in topology_queues(self._topology):
                try:
                    _, ready, consumers = channel.queue_declare(queue=name, passive=True)
                except connection.channel_errors as exc:
                    if not _not_found(exc):
                        raise
                    # The broker closes the channel on a missing queue: the next queue needs a new one.
                    channel = connection.channel()
                    figures.append(QueueFigures(name, kind, of_queue, None, None, None, None, None, exists=False))
                    continue
                figures.append(
                    QueueFigures(
                        name,
                        kind,
                        of_queue,
                        ready=ready,
                        unacknowledged=None,
                        consumers=consumers if self._source == "amqp" else None,
                        publish_rate=None,
                        deliver_rate=None,
                    )
                )
            return figures
        finally:
            _release(connection)


def _not_found(exc: BaseException) -> bool:
    return getattr(exc, "reply_code", None) == 404 or "NOT_FOUND" in str(exc)


def _release(connection) -> None:
    try:
        connection.release()
    except Exception:  # a connection that broke has nothing left to close cleanly
        log.debug("releasing the inspection connection failed", exc_info=True)


class ManagementApiInspector:
    """Figures from the RabbitMQ management HTTP API: one ``GET /api/queues/{vhost}`` per snapshot."""

    def __init__(
        self,
        management_url: str,
        vhost: str,
        topology: Topology,
        *,
        auth: tuple[str, str] | None,
        timeout: float,
    ):
        self._url = f"{management_url.rstrip('/')}/api/queues/{quote(vhost, safe='')}"
        self._topology = topology
        self._auth = auth
        self._timeout = timeout

    def snapshot(self) -> BrokerSnapshot:
        try:
            response = requests.get(self._url, auth=self._auth, timeout=self._timeout)
        except requests.RequestException as exc:
            log.warning("the management API is unreachable: %s", describe(exc))
            return _unreachable("management", f"management API unreachable: {describe(exc)}")
        if response.status_code == 404:
            # No such vhost yet: the broker answers, and none of the topology's queues exists.
            rows: list[Any] = []
        elif response.status_code in (401, 403):
            return _unreachable("management", f"management API refused the credentials (HTTP {response.status_code})")
        elif response.status_code != 200:
            return _unreachable("management", f"management API answered HTTP {response.status_code}")
        else:
            try:
                rows = response.json()
            except ValueError:
                return _unreachable("management", "management API answered something that is not JSON")
            if not isinstance(rows, list):
                return _unreachable("management", "management API answered an unexpected document")
        by_name = {row.get("name"): row for row in rows if isinstance(row, dict)}
        queues = tuple(
            _management_figures(name, kind, of_queue, by_name.get(name))
            for name, kind, of_queue in topology_queues(self._topology)
        )
        return BrokerSnapshot(source="management", reachable=True, error=None, taken_at=_now(), queues=queues)


def _management_figures(name: str, kind: str, of_queue: str, row: dict | None) -> QueueFigures:
    if row is None:
        return QueueFigures(name, kind, of_queue, None, None, None, None, None, exists=False)
    stats = row.get("message_stats")
    stats = stats if isinstance(stats, dict) else {}
    return QueueFigures(
        name,
        kind,
        of_queue,
        ready=_integer(row.get("messages_ready")),
        unacknowledged=_integer(row.get("messages_unacknowledged")),
        consumers=_integer(row.get("consumers")),
        publish_rate=_rate(stats, "publish_details"),
        deliver_rate=_rate(stats, "deliver_get_details"),
    )


def _integer(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _rate(stats: dict, key: str) -> float | None:
    details = stats.get(key)
    rate = details.get("rate") if isinstance(details, dict) else None
    return float(rate) if isinstance(rate, int | float) and not isinstance(rate, bool) else None
