"""``python -m services``: the settings each of the three embedded services gets from one environment."""

import dataclasses
import os
from pathlib import Path

import pytest
import requests
from sqlalchemy.engine import make_url

from services.__main__ import EMBEDDED_BROKER, embedded_ride_provider, settings_for
from simulators.ride_provider import RideProviderSimulator

SERVICES = ("scheduler", "transport", "notifications")
DEFAULT_PORTS = {"scheduler": 8001, "transport": 8002, "notifications": 8003}
PROVIDER_VARIABLES = (
    "RIDE_PROVIDER_URL",
    "RIDE_PROVIDER_KEY",
    "RIDE_PROVIDER_WEBHOOK_SECRET",
    "RIDE_PROVIDER_WEBHOOK_URL",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ("BROKER_URL", "DATABASE_URL", "PORT", "HOST", "SERVICE_TOKEN", "SCHEDULER_URL", *PROVIDER_VARIABLES):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("service", SERVICES)
def test_the_embedded_broker_is_kombus_memory_transport_by_default(service):
    assert EMBEDDED_BROKER == "memory://"
    assert settings_for(service).broker_url == "memory://"


@pytest.mark.parametrize("service", SERVICES)
def test_a_broker_url_that_is_set_is_kept(service, monkeypatch):
    monkeypatch.setenv("BROKER_URL", "amqp://guest:guest@rabbit:5672//")

    assert settings_for(service).broker_url == "amqp://guest:guest@rabbit:5672//"


def test_each_service_gets_its_own_sqlite_file_next_to_the_one_configured(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'clinic.sqlite3'}")

    files = {service: make_url(settings_for(service).database_url).database for service in SERVICES}

    assert files == {
        "scheduler": str(tmp_path / "clinic-scheduler.sqlite3"),
        "transport": str(tmp_path / "clinic-transport.sqlite3"),
        "notifications": str(tmp_path / "clinic-notifications.sqlite3"),
    }
    assert all(make_url(settings_for(s).database_url).get_backend_name() == "sqlite" for s in SERVICES)


def test_a_sqlite_file_without_a_suffix_gets_the_service_name_appended(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'clinic'}")

    assert make_url(settings_for("transport").database_url).database == str(tmp_path / "clinic-transport")


def test_a_relative_sqlite_path_stays_relative(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite:///var/clinic.sqlite3")

    assert settings_for("scheduler").database_url == "sqlite:///var/clinic-scheduler.sqlite3"


def test_a_dot_in_a_directory_name_does_not_move_the_service_file_to_another_directory(monkeypatch, tmp_path):
    directory = tmp_path / "clinic.v2"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{directory / 'services'}")

    database = Path(make_url(settings_for("scheduler").database_url).database)

    assert database.parent == directory
    assert database.name == "services-scheduler"


def test_a_postgresql_url_is_kept_unchanged_for_every_service(monkeypatch):
    url = "postgresql://clinic:secret@db.internal:5432/clinic"
    monkeypatch.setenv("DATABASE_URL", url)

    assert {settings_for(service).database_url for service in SERVICES} == {url}


def test_without_database_url_each_service_has_its_default_sqlite_file():
    urls = {service: settings_for(service).database_url for service in SERVICES}

    assert urls == {service: f"sqlite:///var/{service}.sqlite3" for service in SERVICES}


@pytest.mark.parametrize("service", SERVICES)
def test_port_is_ignored_so_each_service_keeps_its_default_port(service, monkeypatch):
    monkeypatch.setenv("PORT", "9999")

    assert settings_for(service).port == DEFAULT_PORTS[service]


def test_the_three_services_listen_on_three_different_ports():
    assert sorted(settings_for(service).port for service in SERVICES) == [8001, 8002, 8003]


def test_settings_for_does_not_change_the_process_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'clinic.sqlite3'}")
    monkeypatch.setenv("PORT", "9999")

    settings_for("scheduler")

    assert os.environ["DATABASE_URL"] == f"sqlite:///{tmp_path / 'clinic.sqlite3'}"
    assert os.environ["PORT"] == "9999"
    assert "BROKER_URL" not in os.environ


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_is_named_in_its_settings(service):
    assert settings_for(service).service == service


def test_without_a_ride_provider_the_simulator_runs_on_8004_and_transport_is_pointed_at_it():
    environ: dict[str, str] = {}

    simulator = embedded_ride_provider(environ)

    assert (simulator.host, simulator.port) == ("127.0.0.1", 8004)
    assert simulator.webhook_url == "http://127.0.0.1:8002/webhooks/ride-provider"
    assert environ == {
        "RIDE_PROVIDER_URL": "http://127.0.0.1:8004",
        "RIDE_PROVIDER_KEY": "dev-ride-provider-key",
        "RIDE_PROVIDER_WEBHOOK_SECRET": "dev-ride-provider-webhook-secret",
    }
    assert (simulator.api_key, simulator.webhook_secret) == (
        "dev-ride-provider-key",
        "dev-ride-provider-webhook-secret",
    )


def test_the_simulator_and_transport_share_the_key_and_webhook_secret_that_are_set():
    environ = {"RIDE_PROVIDER_KEY": "a-key", "RIDE_PROVIDER_WEBHOOK_SECRET": "a-secret"}

    simulator = embedded_ride_provider(environ)

    assert (simulator.api_key, simulator.webhook_secret) == ("a-key", "a-secret")
    assert (environ["RIDE_PROVIDER_KEY"], environ["RIDE_PROVIDER_WEBHOOK_SECRET"]) == ("a-key", "a-secret")


def test_the_simulator_keeps_8004_whatever_port_is_set():
    assert embedded_ride_provider({"PORT": "9999"}).port == 8004


def test_a_ride_provider_that_is_named_is_used_and_no_simulator_is_started():
    environ = {"RIDE_PROVIDER_URL": "https://rides.example.com", "RIDE_PROVIDER_KEY": "live-key"}

    assert embedded_ride_provider(environ) is None
    assert environ == {"RIDE_PROVIDER_URL": "https://rides.example.com", "RIDE_PROVIDER_KEY": "live-key"}


def test_listening_on_every_interface_still_points_transport_at_the_simulator_over_loopback():
    environ = {"HOST": "0.0.0.0"}

    simulator = embedded_ride_provider(environ)

    assert simulator.host == "0.0.0.0"
    assert environ["RIDE_PROVIDER_URL"] == "http://127.0.0.1:8004"
    assert simulator.webhook_url == "http://127.0.0.1:8002/webhooks/ride-provider"


def test_the_embedded_simulator_answers_as_a_ride_provider():
    settings = dataclasses.replace(embedded_ride_provider({}), port=0, webhook_url="")
    simulator = RideProviderSimulator(settings).start()
    try:
        answer = requests.get(
            f"{simulator.url}/v1/rides/unknown", headers={"Authorization": "Bearer dev-ride-provider-key"}, timeout=5
        )
    finally:
        simulator.stop()

    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "ride_not_found"
