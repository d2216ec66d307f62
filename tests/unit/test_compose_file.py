"""Static checks of docker-compose.yml and the files it points at.

Nothing here starts Docker: the compose file is parsed with PyYAML and
validated against the Compose Specification schema bundled with
check-jsonschema.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from services.notifications.adapters.channels import channels_from_environment
from services.notifications.adapters.email_smtp import SmtpChannel
from services.notifications.adapters.sms_gateway import SmsGatewayChannel

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
COMPOSE_SPEC_SCHEMA = "vendor.compose-spec"
POSTGRES_INIT_DIR = "/docker-entrypoint-initdb.d"


def load_compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


DEVELOPMENT_PROFILE = "development"
SIMULATOR_SERVICE = "ride-provider"


def built_services(compose: dict) -> dict[str, dict]:
    """The services built from this repository (as opposed to third-party images), simulators included."""
    services = {name: spec for name, spec in compose["services"].items() if "build" in spec}
    assert services, "docker-compose.yml defines no service built from this repository"
    return services


def application_services(compose: dict) -> dict[str, dict]:
    """The clinic's own services: built from this repository and run in every profile."""
    services = {
        name: spec
        for name, spec in built_services(compose).items()
        if DEVELOPMENT_PROFILE not in spec.get("profiles", [])
    }
    assert services, "docker-compose.yml defines no service of the clinic"
    return services


def command_as_list(command: str | list[str]) -> list[str]:
    return command.split() if isinstance(command, str) else list(command)


def dependencies_of(service: dict) -> dict[str, dict]:
    depends_on = service.get("depends_on", {})
    if isinstance(depends_on, list):  # short syntax: no condition at all
        return {name: {} for name in depends_on}
    return depends_on


def module_is_runnable(module: str) -> bool:
    """True if `python -m <module>` would find <module>.__main__ in this project."""
    added = str(REPO_ROOT) not in sys.path
    if added:
        sys.path.insert(0, str(REPO_ROOT))
    try:
        return importlib.util.find_spec(module + ".__main__") is not None
    except ModuleNotFoundError:  # a parent package does not exist
        return False
    finally:
        if added:
            sys.path.remove(str(REPO_ROOT))


def postgres_init_files(compose: dict) -> list[Path]:
    """Host-side files mounted into the postgres image's init directory."""
    files: list[Path] = []
    for volume in compose["services"]["postgres"].get("volumes", []):
        if isinstance(volume, dict):
            source, target = volume.get("source", ""), volume.get("target", "")
        else:
            source, _, rest = volume.partition(":")
            target = rest.split(":")[0]
        if not target.startswith(POSTGRES_INIT_DIR) or not source.startswith("."):
            continue  # only bind mounts of files from the repository
        host_path = (REPO_ROOT / source).resolve()
        if host_path.is_dir():
            files.extend(sorted(p for p in host_path.iterdir() if p.suffix in {".sql", ".sh"}))
        else:
            files.append(host_path)
    return files


def test_compose_file_conforms_to_the_compose_specification():
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", COMPOSE_SPEC_SCHEMA, str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_file_has_no_obsolete_top_level_version_key():
    assert "version" not in load_compose()


def test_every_service_built_here_runs_a_module_of_this_project():
    for name, service in built_services(load_compose()).items():
        command = command_as_list(service.get("command", []))
        assert command[:2] == ["python", "-m"] and len(command) == 3, (
            f"{name}: command should be `python -m <module>`, got {command!r}"
        )
        module = command[2]
        assert module_is_runnable(module), f"{name}: `python -m {module}` finds no {module}.__main__ in this project"


def test_application_services_wait_for_healthy_dependencies_that_have_healthchecks():
    compose = load_compose()
    checked = 0
    for name, service in application_services(compose).items():
        dependencies = dependencies_of(service)
        assert {"rabbitmq", "postgres"} <= set(dependencies), f"{name} must depend on rabbitmq and postgres"
        for dependency, options in dependencies.items():
            assert dependency in compose["services"], f"{name} depends on undefined service {dependency}"
            assert options.get("condition") == "service_healthy", (
                f"{name} should wait for {dependency} with condition: service_healthy"
            )
            healthcheck = compose["services"][dependency].get("healthcheck")
            assert healthcheck and healthcheck.get("test") and not healthcheck.get("disable"), (
                f"{dependency} has no healthcheck, so {name} cannot wait for it to be healthy"
            )
            checked += 1
    assert checked


def test_postgres_init_script_creates_every_database_the_services_use():
    compose = load_compose()
    wanted = {}
    for name, service in application_services(compose).items():
        url = service["environment"]["DATABASE_URL"]
        wanted[name] = urlsplit(url).path.lstrip("/")
        assert wanted[name], f"{name}: DATABASE_URL {url!r} names no database"

    init_files = postgres_init_files(compose)
    assert init_files, f"nothing from the repository is mounted into postgres' {POSTGRES_INIT_DIR}"
    script = "\n".join(path.read_text(encoding="utf-8") for path in init_files)
    created = {
        match.lower()
        for match in re.findall(r'CREATE\s+DATABASE\s+"?([A-Za-z_][A-Za-z0-9_]*)"?', script, flags=re.IGNORECASE)
    }
    missing = {name: db for name, db in wanted.items() if db.lower() not in created}
    assert not missing, f"the postgres init script does not create: {missing}"


def port_published_for(service: dict) -> int:
    return int(service["environment"]["PORT"])


def default_of(value: str) -> str:
    """`${NAME:-default}` as compose reads it when NAME is not set; anything else as it is."""
    match = re.fullmatch(r"\$\{[A-Z_]+:-(.*)\}", value)
    return match.group(1) if match else value


def test_every_service_built_here_listens_on_every_interface_of_its_container():
    for name, service in built_services(load_compose()).items():
        assert service["environment"].get("HOST") == "0.0.0.0", (
            f"{name} must listen on 0.0.0.0: on its container's loopback no other container and no published port "
            "reaches it"
        )


def test_the_ride_provider_simulator_runs_only_in_the_development_profile():
    simulator = load_compose()["services"][SIMULATOR_SERVICE]

    assert simulator["profiles"] == [DEVELOPMENT_PROFILE]
    assert command_as_list(simulator["command"]) == ["python", "-m", "simulators.ride_provider"]


def test_the_simulator_has_a_healthcheck_on_its_own_port():
    simulator = load_compose()["services"][SIMULATOR_SERVICE]

    assert "/healthz" in " ".join(simulator["healthcheck"]["test"])
    assert simulator["ports"] == [f"8004:{port_published_for(simulator)}"]


def test_transport_books_its_rides_with_the_simulator_unless_told_otherwise():
    services = load_compose()["services"]
    url = urlsplit(default_of(services["transport"]["environment"]["RIDE_PROVIDER_URL"]))

    assert (url.hostname, url.port) == (SIMULATOR_SERVICE, port_published_for(services[SIMULATOR_SERVICE]))
    assert services["transport"]["environment"]["RIDE_PROVIDER_URL"].startswith("${RIDE_PROVIDER_URL:-")


def test_transport_and_the_simulator_share_the_key_and_the_webhook_secret():
    services = load_compose()["services"]
    transport, simulator = services["transport"]["environment"], services[SIMULATOR_SERVICE]["environment"]

    for name in ("RIDE_PROVIDER_KEY", "RIDE_PROVIDER_WEBHOOK_SECRET"):
        assert transport[name] == simulator[name], name
        assert transport[name].startswith(f"${{{name}:-"), f"{name} must be settable from the environment"


def test_the_simulator_sends_its_webhooks_to_transports_webhook_route():
    services = load_compose()["services"]
    url = urlsplit(services[SIMULATOR_SERVICE]["environment"]["RIDE_PROVIDER_WEBHOOK_URL"])

    assert (url.hostname, url.port, url.path) == (
        "transport",
        port_published_for(services["transport"]),
        "/webhooks/ride-provider",
    )


def test_no_service_of_the_clinic_waits_for_the_simulator():
    # Outside the development profile the simulator does not exist: a service depending on it could not start.
    for name, service in application_services(load_compose()).items():
        assert SIMULATOR_SERVICE not in dependencies_of(service), name


SMS_SIMULATOR_SERVICE = "sms-gateway"
MAIL_CATCHER_SERVICE = "mailpit"


def development_services(compose: dict) -> dict[str, dict]:
    return {name: spec for name, spec in compose["services"].items() if DEVELOPMENT_PROFILE in spec.get("profiles", [])}


def notifications_defaults() -> dict[str, str]:
    """Notifications' environment as compose gives it when none of the variables is set on the host."""
    environment = load_compose()["services"]["notifications"]["environment"]
    return {name: default_of(str(value)) for name, value in environment.items()}


def test_the_sms_gateway_simulator_and_the_mail_catcher_run_only_in_the_development_profile():
    services = load_compose()["services"]

    assert {SIMULATOR_SERVICE, SMS_SIMULATOR_SERVICE, MAIL_CATCHER_SERVICE} <= set(development_services(load_compose()))
    assert services[SMS_SIMULATOR_SERVICE]["profiles"] == [DEVELOPMENT_PROFILE]
    assert services[MAIL_CATCHER_SERVICE]["profiles"] == [DEVELOPMENT_PROFILE]
    assert command_as_list(services[SMS_SIMULATOR_SERVICE]["command"]) == ["python", "-m", "simulators.sms_gateway"]


def test_the_sms_gateway_simulator_has_a_healthcheck_on_its_own_port():
    simulator = load_compose()["services"][SMS_SIMULATOR_SERVICE]

    assert "/healthz" in " ".join(simulator["healthcheck"]["test"])
    assert simulator["ports"] == [f"8005:{port_published_for(simulator)}"]


def test_the_mail_catcher_is_mailpit_with_its_smtp_port_its_web_page_and_a_healthcheck():
    mailpit = load_compose()["services"][MAIL_CATCHER_SERVICE]

    assert mailpit["image"].split(":")[0] == "axllent/mailpit"
    assert set(mailpit["ports"]) == {"1025:1025", "8025:8025"}
    assert mailpit["healthcheck"]["test"] == ["CMD", "/mailpit", "readyz"]


def test_notifications_sends_its_email_to_the_mail_catcher_unless_told_otherwise():
    environment = load_compose()["services"]["notifications"]["environment"]
    url = urlsplit(notifications_defaults()["SMTP_URL"])

    assert (url.scheme, url.hostname, url.port) == ("smtp", MAIL_CATCHER_SERVICE, 1025)
    for name in ("SMTP_URL", "SMTP_FROM"):
        assert environment[name].startswith(f"${{{name}:-"), f"{name} must be settable from the environment"


def test_notifications_sends_its_texts_to_the_sms_gateway_simulator_unless_told_otherwise():
    services = load_compose()["services"]
    notifications, simulator = services["notifications"]["environment"], services[SMS_SIMULATOR_SERVICE]["environment"]
    url = urlsplit(notifications_defaults()["SMS_GATEWAY_URL"])

    assert (url.scheme, url.hostname, url.port) == (
        "http",
        SMS_SIMULATOR_SERVICE,
        port_published_for(services[SMS_SIMULATOR_SERVICE]),
    )
    assert notifications["SMS_GATEWAY_URL"].startswith("${SMS_GATEWAY_URL:-")
    assert notifications["SMS_GATEWAY_TOKEN"] == simulator["SMS_GATEWAY_TOKEN"]
    assert notifications["SMS_GATEWAY_TOKEN"].startswith("${SMS_GATEWAY_TOKEN:-")


def test_notifications_development_defaults_start_the_real_channels():
    channels = channels_from_environment(notifications_defaults())

    assert isinstance(channels["email"], SmtpChannel)
    assert isinstance(channels["sms"], SmsGatewayChannel)


def test_no_service_of_the_clinic_waits_for_a_development_peer():
    # Outside the development profile these do not exist: a service depending on one could not start.
    compose = load_compose()
    for name, service in application_services(compose).items():
        assert not set(development_services(compose)) & set(dependencies_of(service)), name
