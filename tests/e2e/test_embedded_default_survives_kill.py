"""The embedded default (``python -m services``: kombu's in-memory broker, one SQLite file per service), killed with
SIGKILL mid-stream and started again on the same files, loses no event: every booked session gets exactly one ride
and exactly one set of preparation instructions.

The in-memory broker dies with the process, and with it whatever it held. What makes up for it: each relay starts by
publishing again what its outbox still holds, and each consumer's inbox drops what it already handled.
"""

import itertools
import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from e2e.test_services_as_processes import CLINIC_ZONE, ESCORT, TOKEN, api, book_with_intake, eventually, free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("scheduler", "transport", "notifications")
ROUNDS = 3
BOOKINGS_PER_ROUND = 3
_phones = itertools.count(1000)
# Variables of the caller's environment that would point the embedded system elsewhere.
NOT_INHERITED = (
    "BROKER_URL",
    "DATABASE_URL",
    "PORT",
    "HOST",
    "SCHEDULER_URL",
    "TRANSPORT_URL",
    "NOTIFICATIONS_URL",
    "TRANSPORT_PUBLIC_URL",
    "RIDE_PROVIDER_URL",
    "RIDE_PROVIDER_WEBHOOK_URL",
    "RABBITMQ_MANAGEMENT_URL",
)


def embedded_environment(tmp_path: Path) -> tuple[dict[str, str], dict[str, str]]:
    ports = {name: free_port() for name in (*SERVICES, "ride_provider")}
    env = {key: value for key, value in os.environ.items() if key not in NOT_INHERITED}
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'clinic.sqlite3'}",
            "SCHEDULER_PORT": str(ports["scheduler"]),
            "TRANSPORT_PORT": str(ports["transport"]),
            "NOTIFICATIONS_PORT": str(ports["notifications"]),
            "RIDE_PROVIDER_PORT": str(ports["ride_provider"]),
            "SERVICE_TOKEN": TOKEN,
            # Messages due at once and at any hour: the grace period and quiet hours would only make them wait.
            "NOTIFICATION_GRACE": "0s",
            "QUIET_HOURS": "off",
        }
    )
    return env, {name: f"http://127.0.0.1:{ports[name]}" for name in SERVICES}


@contextmanager
def embedded_system(env: dict[str, str], urls: dict[str, str], log: Path):
    """``python -m services`` with the venv's python, up and answering; SIGKILLed on leaving if still running."""
    with log.open("a") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "services"], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        for name, url in urls.items():
            eventually(
                lambda url=url: process.poll() is None and requests.get(f"{url}/healthz", timeout=2).ok,
                what=f"{name} answering (log: {log})",
            )
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def book(scheduler_url: str) -> str:
    """A new patient with an intake, booked into the first free IV infusion start a month from now; its session id."""
    phone = f"+1415555{next(_phones):04d}"
    first = datetime.now(CLINIC_ZONE).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=30)
    slots = api(
        "GET",
        f"{scheduler_url}/api/availability",
        params={
            "treatment_type": "iv_infusion",
            "from": first.isoformat(),
            "to": (first + timedelta(days=14)).isoformat(),
        },
    )
    assert slots.status_code == 200, slots.text
    assert slots.json()["slots"], "no free IV infusion start in the fortnight a month from now"
    patient = {"name": "Marguerite Quinlan", "phone": phone}
    return book_with_intake(scheduler_url, patient, slots.json()["slots"][0]["starts_at"], ESCORT)["id"]


def rides_of(transport_url: str, session_id: str) -> list[dict]:
    reply = api("GET", f"{transport_url}/api/rides", params={"session_id": session_id})
    assert reply.status_code == 200, reply.text
    return reply.json()["rides"]


def instructions_of(notifications_url: str, session_id: str) -> list[dict]:
    reply = api("GET", f"{notifications_url}/api/messages", params={"session_id": session_id})
    assert reply.status_code == 200, reply.text
    return [
        m for m in reply.json()["messages"] if m["kind"] == "preparation_instructions" and m["recipient"] == "patient"
    ]


def test_the_embedded_default_killed_right_after_bookings_round_after_round_gives_every_session_one_ride_and_one_set_of_instructions(
    tmp_path,
):
    env, urls = embedded_environment(tmp_path)
    log = tmp_path / "services.log"
    booked: list[str] = []

    for _ in range(ROUNDS):
        with embedded_system(env, urls, log) as process:
            for _ in range(BOOKINGS_PER_ROUND):
                booked.append(book(urls["scheduler"]))
            # Right after the last booking's 201: its events are committed in the outbox, and maybe not yet
            # published, or published and not yet handled.
            process.send_signal(signal.SIGKILL)
            process.wait()
        assert process.returncode == -signal.SIGKILL

    with embedded_system(env, urls, log) as process:
        booked.append(book(urls["scheduler"]))
        for session_id in booked:
            eventually(
                lambda session_id=session_id: rides_of(urls["transport"], session_id),
                what=f"a ride for session {session_id} (log: {log})",
            )
            eventually(
                lambda session_id=session_id: instructions_of(urls["notifications"], session_id),
                what=f"preparation instructions for session {session_id} (log: {log})",
            )
        rides = {session_id: rides_of(urls["transport"], session_id) for session_id in booked}
        instructions = {session_id: instructions_of(urls["notifications"], session_id) for session_id in booked}
        process.send_signal(signal.SIGTERM)
        assert process.wait() == 0, f"a SIGTERM stops the system cleanly (log: {log})"

    assert len(booked) == ROUNDS * BOOKINGS_PER_ROUND + 1
    assert {session_id: len(found) for session_id, found in rides.items()} == dict.fromkeys(booked, 1)
    assert {session_id: len(found) for session_id, found in instructions.items()} == dict.fromkeys(booked, 1)
