"""Helpers of the integration tier: waiting for asynchronous outcomes, and reading RabbitMQ with pika.

The tests inspect the broker with pika, independently of the product's kombu code, so that a mistake in the
product's messaging layer cannot hide itself.
"""

import json
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from datetime import time as wall_time
from typing import Any
from zoneinfo import ZoneInfo

import pika
import pika.exceptions
import pytest

from services.scheduler.domain.clinic import Clinic, Clinician, TreatmentType, WeeklyHours
from shared.contract import SESSION_BOOKED, new_event, to_json

DEADLINE = 30.0
EVENTS_EXCHANGE = "clinic.events"
DEAD_LETTER_EXCHANGE = "clinic.dlx"
REASON_HEADER = "x-dead-letter-reason"
CLOSED_PORT_URL = "amqp://guest:guest@127.0.0.1:1//"


def eventually(probe: Callable[[], Any], *, what: str, deadline: float = DEADLINE, interval: float = 0.1):
    """Poll until probe() returns something truthy and return it; fail saying what never happened."""
    end = time.monotonic() + deadline
    last: Any = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() >= end:
            pytest.fail(f"{what} did not happen within {deadline:.0f}s; last seen: {last!r}")
        time.sleep(interval)


def always_open_clinic() -> Clinic:
    """A clinic open around the clock with a clinician per chair and no intake rule: for tests about messaging, not rules."""
    every_day = WeeklyHours(tuple(((wall_time(0), wall_time.max),) for _ in range(7)))
    return Clinic(
        name="Always Open Test Clinic",
        time_zone=ZoneInfo("America/New_York"),
        chairs=("chair-1", "chair-2", "chair-3", "chair-4"),
        opening_hours=every_day,
        clinicians=tuple(Clinician(f"clinician-{n}", f"Clinician {n}", every_day) for n in range(1, 5)),
        treatment_types={
            "iv_infusion": TreatmentType(
                "iv_infusion", "IV ketamine infusion", 45, 45, turnover_minutes=15, ride_home_required=True
            ),
        },
    )


def clinic_time(days_ahead: int, hour: int, minute: int = 0) -> str:
    """An ISO 8601 instant with its offset, in the clinic's time zone, ``days_ahead`` days from today.

    Relative to today, because the scheduler books only within its booking horizon.
    """
    zone = ZoneInfo("America/New_York")
    day = datetime.now(zone).date() + timedelta(days=days_ahead)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).isoformat()


# --- events -------------------------------------------------------------------------------------------------------


def session_booked_data(**overrides) -> dict:
    starts_at = (datetime.now(UTC) + timedelta(days=14)).replace(hour=14, minute=0, second=0, microsecond=0)
    data = {
        "session_id": str(uuid.uuid4()),
        "patient_id": str(uuid.uuid4()),
        "treatment_type": "iv_infusion",
        "starts_at": starts_at,
        "treatment_ends_at": starts_at + timedelta(minutes=45),
        "recovery_ends_at": starts_at + timedelta(minutes=90),
        "chair_id": "chair-1",
        "ride_home_mode": "escort",
    }
    data.update(overrides)
    return data


def session_booked(**overrides):
    """A valid session.booked event as the scheduler would publish it."""
    data = session_booked_data(**overrides)
    return new_event(SESSION_BOOKED, data, correlation_id=data["session_id"]).stamped_by("scheduler")


def session_booked_json(**overrides) -> tuple[Any, str]:
    event = session_booked(**overrides)
    return event, to_json(event)


def tampered(body: str, change: Callable[[dict], None]) -> str:
    """The JSON of an event after ``change`` edited its document: for messages the contract must refuse."""
    document = json.loads(body)
    change(document)
    return json.dumps(document)


# --- RabbitMQ through pika ----------------------------------------------------------------------------------------


@contextmanager
def pika_channel(url: str) -> Iterator[Any]:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        yield connection.channel()
    finally:
        if connection.is_open:
            connection.close()


def publish_raw(
    url: str,
    body: bytes | str,
    *,
    routing_key: str = "session.booked",
    exchange: str = EVENTS_EXCHANGE,
    content_type: str | None = "application/json",
    message_id: str | None = None,
    headers: dict | None = None,
) -> None:
    """Publish exactly these bytes, confirmed and mandatory, the way any client could, bypassing the product's publisher."""
    with pika_channel(url) as channel:
        channel.confirm_delivery()
        _publish(channel, body, exchange, routing_key, content_type, message_id, headers)


def publish_burst(url: str, messages: list[tuple[str, str]], *, routing_key: str = "session.booked") -> None:
    """Publish (message_id, body) pairs back to back on one channel, so that consumers receive them together."""
    with pika_channel(url) as channel:
        for message_id, body in messages:
            _publish(channel, body, EVENTS_EXCHANGE, routing_key, "application/json", message_id, None)


def _publish(channel, body, exchange, routing_key, content_type, message_id, headers) -> None:
    if isinstance(body, str):
        body = body.encode("utf-8")
    channel.basic_publish(
        exchange=exchange,
        routing_key=routing_key,
        body=body,
        properties=pika.BasicProperties(
            content_type=content_type, delivery_mode=2, message_id=message_id, headers=headers
        ),
        mandatory=True,
    )


def message_count(url: str, queue: str) -> int:
    """Messages ready in the queue (not counting those delivered to a consumer and not yet acked)."""
    with pika_channel(url) as channel:
        return channel.queue_declare(queue, passive=True).method.message_count


def queue_exists(url: str, queue: str) -> bool:
    try:
        with pika_channel(url) as channel:
            channel.queue_declare(queue, passive=True)
        return True
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code == 404:
            return False
        raise


def unsettled(vhost_name: str, queue: str) -> int:
    """Messages of the queue that are ready or delivered but not yet acked, as the broker counts them."""
    result = subprocess.run(
        [
            "rabbitmqctl",
            "list_queues",
            "-p",
            vhost_name,
            "name",
            "messages_ready",
            "messages_unacknowledged",
            "--formatter",
            "json",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        pytest.fail(f"rabbitmqctl list_queues failed: {result.stderr.strip() or result.stdout.strip()}")
    for row in json.loads(result.stdout or "[]"):
        if row["name"] == queue:
            return int(row["messages_ready"]) + int(row["messages_unacknowledged"])
    pytest.fail(f"queue {queue} does not exist in vhost {vhost_name}")


class Received:
    """One message read from a queue: its body, its properties and where it was routed from."""

    def __init__(self, method, properties, body: bytes):
        self.routing_key = method.routing_key
        self.exchange = method.exchange
        self.properties = properties
        self.body = body

    @property
    def headers(self) -> dict:
        return {key: _text(value) for key, value in (self.properties.headers or {}).items()}

    @property
    def reason(self) -> str | None:
        return self.headers.get(REASON_HEADER)

    @property
    def document(self) -> dict:
        return json.loads(self.body)

    @property
    def type(self) -> str:
        return self.document["type"]

    @property
    def data(self) -> dict:
        return self.document["data"]

    def __repr__(self) -> str:
        return f"Received(routing_key={self.routing_key!r}, headers={self.headers!r}, body={self.body[:200]!r})"


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def drain(url: str, queue: str) -> list[Received]:
    """Take every message now ready in the queue (they are acked, so gone afterwards)."""
    received = []
    with pika_channel(url) as channel:
        while True:
            method, properties, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return received
            received.append(Received(method, properties, body))


class QueueReader:
    """Reads a queue as messages arrive, keeping all it has read, so a test can wait for what it expects."""

    def __init__(self, url: str, queue: str):
        self.url = url
        self.queue = queue
        self.messages: list[Received] = []

    def read(self) -> list[Received]:
        if queue_exists(self.url, self.queue):
            self.messages.extend(drain(self.url, self.queue))
        return self.messages

    def wait_for(self, predicate: Callable[[list[Received]], Any], *, what: str, deadline: float = DEADLINE):
        def probe():
            self.read()
            return predicate(self.messages)

        try:
            return eventually(probe, what=what, deadline=deadline, interval=0.2)
        except pytest.fail.Exception as exc:
            pytest.fail(f"{exc.msg}\nmessages read from {self.queue}: {self.messages!r}")

    def wait_for_count(self, count: int, *, what: str, deadline: float = DEADLINE) -> list[Received]:
        self.wait_for(lambda messages: len(messages) >= count, what=what, deadline=deadline)
        return self.messages

    def of_type(self, event_type: str) -> list[Received]:
        return [m for m in self.messages if m.type == event_type]


# --- background workers -------------------------------------------------------------------------------------------


@contextmanager
def running(worker, *, name: str = "worker") -> Iterator[threading.Thread]:
    """Run a worker (consumer or relay) in a daemon thread; always stop it and wait for its thread to end."""
    failures: list[BaseException] = []

    def target():
        try:
            worker.run_until_stopped()
        except BaseException as exc:  # reported by the test rather than lost in a thread
            failures.append(exc)
            raise

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        worker.stop()
        thread.join(DEADLINE)
    assert not thread.is_alive(), f"{name} did not stop within {DEADLINE:.0f}s of stop()"
    assert not failures, f"{name} crashed: {failures[0]!r}"


def wait_until_ready(consumer, *, what: str = "the consumer getting ready") -> None:
    eventually(consumer.ready.is_set, what=what)


# --- a broker outage on demand ------------------------------------------------------------------------------------


class BrokerProxy:
    """A TCP forwarder to the real RabbitMQ that a test takes down and brings back: a broker outage on demand.

    While down it drops every forwarded connection and closes each new one at once, counting those attempts,
    so a test can wait until a client has really tried, and failed, to reconnect.
    """

    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 5672)):
        self._target = target
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._up = True
        self._closed = False
        self._sockets: list[socket.socket] = []
        self.refused = 0
        threading.Thread(target=self._accept, name="broker-proxy", daemon=True).start()

    def url(self, vhost_name: str) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/{vhost_name}"

    def refused_count(self) -> int:
        with self._lock:
            return self.refused

    def down(self) -> None:
        with self._lock:
            self._up = False
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _close(sock)

    def up(self) -> None:
        with self._lock:
            self._up = True

    def close(self) -> None:
        self._closed = True
        self.down()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if not self._up:
                    self.refused += 1
                    _close(client)
                    continue
                try:
                    upstream = socket.create_connection(self._target, timeout=5)
                    upstream.settimeout(None)
                except OSError:
                    _close(client)
                    continue
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, destination: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                destination.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, destination):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def register_with_intake(client, auth: dict, name: str = "Ann Lee", phone: str = "+14155550123") -> str:
    """A patient registered through the scheduler's API, with an intake recorded so that infusions can be booked."""
    response = client.post("/api/patients", json={"name": name, "phone": phone}, headers=auth)
    assert response.status_code == 201, response.get_data(as_text=True)
    patient_id = response.get_json()["id"]
    intake = client.post(
        f"/api/patients/{patient_id}/intake",
        json={"completed_at": "2026-11-20T10:00:00-05:00", "recorded_by": "Dr. Xu"},
        headers=auth,
    )
    assert intake.status_code == 201, intake.get_data(as_text=True)
    return patient_id
