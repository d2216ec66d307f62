"""The real servers the tests use: RabbitMQ and PostgreSQL on this machine, started if they are down.

A server that is down and cannot be started fails the tests that need it, saying why. Nothing is skipped.
"""

import glob
import os
import shutil
import socket
import subprocess
import time
import uuid

import pytest

RABBITMQ_HOST = os.environ.get("TEST_RABBITMQ_HOST", "127.0.0.1")
RABBITMQ_PORT = int(os.environ.get("TEST_RABBITMQ_PORT", "5672"))
POSTGRES_HOST = os.environ.get("TEST_POSTGRES_HOST", "127.0.0.1")
POSTGRES_PORT = int(os.environ.get("TEST_POSTGRES_PORT", "5432"))
POSTGRES_ADMIN_DB = os.environ.get("TEST_POSTGRES_DB", "test")
POSTGRES_USER = os.environ.get("TEST_POSTGRES_USER", "postgres")


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _wait_for_port(host: str, port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if port_open(host, port):
            return True
        time.sleep(0.5)
    return False


def ensure_rabbitmq() -> None:
    if port_open(RABBITMQ_HOST, RABBITMQ_PORT):
        return
    if shutil.which("rabbitmq-server") is None:
        pytest.fail(
            f"RabbitMQ is not listening on {RABBITMQ_HOST}:{RABBITMQ_PORT} and rabbitmq-server is not installed"
        )
    subprocess.run(["rabbitmq-server", "-detached"], check=False, capture_output=True)
    if not _wait_for_port(RABBITMQ_HOST, RABBITMQ_PORT, 90):
        pytest.fail(f"RabbitMQ did not come up on {RABBITMQ_HOST}:{RABBITMQ_PORT} after `rabbitmq-server -detached`")
    subprocess.run(["rabbitmqctl", "await_startup"], check=False, capture_output=True, timeout=120)


def ensure_postgres() -> None:
    if port_open(POSTGRES_HOST, POSTGRES_PORT):
        return
    versions = sorted(os.path.basename(p) for p in glob.glob("/etc/postgresql/*"))
    if shutil.which("pg_ctlcluster") is None or not versions:
        pytest.fail(
            f"PostgreSQL is not listening on {POSTGRES_HOST}:{POSTGRES_PORT} and no local cluster can be started"
        )
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"], check=False, capture_output=True
    )
    if not _wait_for_port(POSTGRES_HOST, POSTGRES_PORT, 60):
        pytest.fail(f"PostgreSQL did not come up on {POSTGRES_HOST}:{POSTGRES_PORT} after pg_ctlcluster start")


def rabbitmqctl(*args: str) -> None:
    result = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        pytest.fail(f"rabbitmqctl {' '.join(args)} failed: {result.stderr.strip() or result.stdout.strip()}")


class Vhost:
    """A RabbitMQ virtual host of one test's own, so the pinned exchange and queue names never collide."""

    def __init__(self):
        self.name = f"test-{uuid.uuid4().hex[:12]}"

    def __enter__(self) -> "Vhost":
        rabbitmqctl("add_vhost", self.name)
        rabbitmqctl("set_permissions", "-p", self.name, "guest", ".*", ".*", ".*")
        return self

    def __exit__(self, *exc_info):
        subprocess.run(["rabbitmqctl", "delete_vhost", self.name], capture_output=True, timeout=60)

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@{RABBITMQ_HOST}:{RABBITMQ_PORT}/{self.name}"

    def close_connections(self) -> None:
        rabbitmqctl("close_all_connections", "--vhost", self.name, "test closes every connection")


class Database:
    """A PostgreSQL database of one test's own."""

    def __init__(self):
        self.name = f"test_{uuid.uuid4().hex[:12]}"

    def _admin(self):
        import psycopg

        return psycopg.connect(
            host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER, dbname=POSTGRES_ADMIN_DB, autocommit=True
        )

    def __enter__(self) -> "Database":
        with self._admin() as connection:
            connection.execute(f'CREATE DATABASE "{self.name}"')
        return self

    def __exit__(self, *exc_info):
        with self._admin() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{self.name}"
