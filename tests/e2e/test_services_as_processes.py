"""The three services as separate processes on RabbitMQ and PostgreSQL, driven over HTTP like the front desk."""

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pika
import pytest
import requests

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "e2e-token"
PATIENT = {
    "name": "Marguerite Quinlan",
    "phone": "+14155550199",
    "email": "marguerite.q@example.org",
    "preferred_channel": "sms",
}
ESCORT = {"mode": "escort", "escort_name": "Tobias Quinlan", "escort_phone": "+14155550142"}
PRIVATE_STRINGS = [
    "Marguerite",
    "Quinlan",
    "4155550199",
    "marguerite.q@example.org",
    "Tobias",
    "4155550142",
    "Mendel",
    "sick",
]
CLINIC_ZONE = ZoneInfo("America/New_York")  # the shipped clinic configuration's zone


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def eventually(probe, *, what: str, deadline: float = 90.0):
    """Poll until probe() returns something truthy; fail saying what never happened."""
    end = time.monotonic() + deadline
    last = None
    while time.monotonic() < end:
        try:
            last = probe()
        except requests.RequestException as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.2)
    pytest.fail(f"{what} did not happen; last seen: {last!r}")


@contextmanager
def services_as_processes(vhost, postgres_url: str, tmp_path: Path, **settings: str):
    """The three services, each a process of its own on one broker vhost and one database; ``settings`` add to the
    environment each is started with. Yields their URLs and log files; stops them with SIGTERM."""
    ports = {name: free_port() for name in ("scheduler", "transport", "notifications")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    processes, logs = {}, {}
    for name, port in ports.items():
        env = {
            **os.environ,
            "BROKER_URL": vhost.url,
            "DATABASE_URL": postgres_url,  # one database; each service keeps its tables in a schema of its own
            "PORT": str(port),
            "SERVICE_TOKEN": TOKEN,
            "SCHEDULER_URL": urls["scheduler"],
            "TRANSPORT_URL": urls["transport"],
            "TRANSPORT_PUBLIC_URL": urls["transport"],
            "LOG_LEVEL": "DEBUG",
            **settings,
        }
        logs[name] = tmp_path / f"{name}.log"
        processes[name] = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"],
            cwd=ROOT,
            env=env,
            stdout=logs[name].open("w"),
            stderr=subprocess.STDOUT,
        )
    try:
        for name, url in urls.items():
            eventually(
                lambda name=name, url=url: (
                    processes[name].poll() is None
                    and requests.get(f"{url}/healthz", timeout=2).json().get("consuming", True)
                ),
                what=f"{name} becoming healthy (log: {logs[name]})",
                deadline=60,
            )
        yield urls, logs
    finally:
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def system(vhost, postgres_url, tmp_path):
    # Messages due at once and at any hour: the instructions' grace period and quiet hours would only make it wait.
    with services_as_processes(vhost, postgres_url, tmp_path, NOTIFICATION_GRACE="0s", QUIET_HOURS="off") as (
        urls,
        logs,
    ):
        yield urls, logs, vhost


def open_nine_oclock_starts(scheduler_url: str, days_ahead: int) -> list[datetime]:
    """09:00 starts the scheduler lists for an IV infusion in the week from ``days_ahead`` days on."""
    first = datetime.now(CLINIC_ZONE).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=days_ahead)
    reply = api(
        "GET",
        f"{scheduler_url}/api/availability",
        params={
            "treatment_type": "iv_infusion",
            "from": first.isoformat(),
            "to": (first + timedelta(days=7)).isoformat(),
        },
    )
    assert reply.status_code == 200, reply.text
    starts = [datetime.fromisoformat(slot["starts_at"]) for slot in reply.json()["slots"]]
    nine = [start for start in starts if start.astimezone(CLINIC_ZONE).hour == 9 and start.minute == 0]
    assert nine, f"no 09:00 start listed in the week from {first:%Y-%m-%d}"
    return nine


def api(method: str, url: str, **kwargs) -> requests.Response:
    return requests.request(method, url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10, **kwargs)


def book_with_intake(
    scheduler_url: str, patient: dict, starts_at: datetime | str, ride_home: dict, *, recorded_by: str = "Dr. Ng"
) -> dict:
    """Register the patient, record an intake done yesterday (by ``recorded_by``, a private string too), and book an
    IV infusion at ``starts_at``: the session."""
    registered = api("POST", f"{scheduler_url}/api/patients", json=patient)
    assert registered.status_code == 201, registered.text
    intake = api(
        "POST",
        f"{scheduler_url}/api/patients/{registered.json()['id']}/intake",
        json={"completed_at": (datetime.now(CLINIC_ZONE) - timedelta(days=1)).isoformat(), "recorded_by": recorded_by},
    )
    assert intake.status_code == 201, intake.text
    booking = api(
        "POST",
        f"{scheduler_url}/api/sessions",
        json={
            "patient_id": registered.json()["id"],
            "treatment_type": "iv_infusion",
            "starts_at": starts_at if isinstance(starts_at, str) else starts_at.isoformat(),
            "ride_home": ride_home,
        },
    )
    assert booking.status_code == 201, booking.text
    return booking.json()


def test_a_booking_gets_a_ride_home_and_preparation_instructions_and_a_cancellation_cancels_the_ride(system):
    urls, logs, vhost = system
    starts_at, later_start = open_nine_oclock_starts(urls["scheduler"], days_ahead=30)[:2]
    session = book_with_intake(urls["scheduler"], PATIENT, starts_at, ESCORT, recorded_by="Dr. Ruth Mendel")
    assert datetime.fromisoformat(session["recovery_ends_at"]) == starts_at + timedelta(minutes=90)

    rides = eventually(
        lambda: api("GET", f"{urls['transport']}/api/rides", params={"session_id": session["id"]}).json()["rides"],
        what="the transport service requesting a ride",
    )
    assert len(rides) == 1
    assert rides[0]["status"] == "requested"
    assert datetime.fromisoformat(rides[0]["pickup_at"]) == datetime.fromisoformat(session["recovery_ends_at"])

    def sent_to_patient():
        reply = api("GET", f"{urls['notifications']}/api/messages", params={"session_id": session["id"]})
        # With no SMTP server nor SMS gateway configured, the local outbox keeps them: stored, not sent.
        return [
            m for m in reply.json()["messages"] if m["status"] in ("sent", "stored") and m["recipient"] == "patient"
        ]

    messages = eventually(sent_to_patient, what="the notifications service sending preparation instructions")
    assert [m["kind"] for m in messages] == ["preparation_instructions"]
    assert messages[0]["channel"] == "sms"
    assert "light meal" in messages[0]["body"]
    # The clinic's wording (the shipped templates), with times as an English reader writes them.
    assert "arrive by 8:45 AM" in messages[0]["body"]
    assert "picks you up at 10:30 AM" in messages[0]["body"]

    moved = api(
        "POST",
        f"{urls['scheduler']}/api/sessions/{session['id']}/reschedule",
        json={"starts_at": later_start.isoformat()},
    )
    assert moved.status_code == 200, moved.text
    new_pickup = datetime.fromisoformat(moved.json()["recovery_ends_at"])
    assert new_pickup == later_start + timedelta(minutes=90)
    eventually(
        lambda: (
            datetime.fromisoformat(
                api("GET", f"{urls['transport']}/api/rides", params={"session_id": session["id"]}).json()["rides"][0][
                    "pickup_at"
                ]
            )
            == new_pickup
        ),
        what="the ride's pickup moving with the rescheduled session",
    )

    cancelled = api(
        "POST",
        f"{urls['scheduler']}/api/sessions/{session['id']}/cancel",
        json={"reason": "patient_unwell", "note": "Marguerite phoned in sick"},
    )
    assert cancelled.status_code == 200, cancelled.text
    eventually(
        lambda: (
            api("GET", f"{urls['transport']}/api/rides", params={"session_id": session["id"]}).json()["rides"][0][
                "status"
            ]
            == "cancelled"
        ),
        what="the ride being cancelled after the session was cancelled",
    )

    audit = _drain(vhost.url, "audit.events")
    types = [body_type for body_type, _ in audit]
    for expected in (
        "session.booked",
        "ride.requested",
        "session.rescheduled",
        "ride.rescheduled",
        "session.cancelled",
        "ride.cancelled",
    ):
        assert expected in types, f"{expected} never crossed the broker; saw {types}"
    for _, body in audit:
        for private in PRIVATE_STRINGS:
            assert private not in body, f"{private!r} travelled on the broker"
    for name, log in logs.items():
        text = log.read_text()
        assert "handled session" in text or name == "scheduler"
        for private in PRIVATE_STRINGS:
            assert private not in text, f"{private!r} appears in the {name} log"


def _drain(url: str, queue: str) -> list[tuple[str, str]]:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        seen = []
        while True:
            method, properties, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return seen
            seen.append((properties.type, body.decode()))
    finally:
        connection.close()
