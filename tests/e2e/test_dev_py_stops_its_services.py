"""``python3 dev.py up`` stopped by its process id stops the system: no child is left holding the ports, and the next
start finds them free. ``dev.py test`` and ``dev.py check`` pass a SIGTERM on to the command they wait for."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
from contextlib import closing
from pathlib import Path

import pytest
import requests
from e2e.test_services_as_processes import eventually, free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PORT_VARIABLES = ("SCHEDULER_PORT", "TRANSPORT_PORT", "NOTIFICATIONS_PORT", "RIDE_PROVIDER_PORT")
NOT_INHERITED = ("BROKER_URL", "DATABASE_URL", "PORT", "HOST", "SCHEDULER_URL", "TRANSPORT_URL", "NOTIFICATIONS_URL")


def answering(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok
    except requests.RequestException:
        return False


def bindable(port: int) -> bool:
    """Whether a new server could listen on the port (as waitress binds: with SO_REUSEADDR)."""
    with closing(socket.socket()) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            return False
        return True


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie, dead but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def descendants(pid: int) -> set[int]:
    """Every process started under ``pid``, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                )  # the field after the state
            except (FileNotFoundError, ProcessLookupError, ValueError):
                continue
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


@pytest.fixture
def ports() -> dict[str, int]:
    return {variable: free_port() for variable in PORT_VARIABLES}


def dev_up(ports: dict[str, int], tmp_path: Path) -> subprocess.Popen:
    env = {key: value for key, value in os.environ.items() if key not in NOT_INHERITED}
    env.update({variable: str(port) for variable, port in ports.items()})
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'clinic.sqlite3'}", "SERVICE_TOKEN": "dev-py-e2e-token"})
    log = (tmp_path / "dev-up.log").open("a")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "dev.py"), "up"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    log.close()
    for variable, port in ports.items():
        eventually(
            lambda port=port: process.poll() is None and answering(port),
            what=f"{variable} {port} answering (log: {tmp_path / 'dev-up.log'})",
        )
    return process


def assert_stopped_entirely(process: subprocess.Popen, started_under_it: set[int], ports: dict[str, int]) -> None:
    for variable, port in ports.items():
        eventually(lambda port=port: bindable(port), what=f"{variable} {port} free again")
        assert not answering(port)
    assert not alive(process.pid)
    assert [pid for pid in started_under_it if alive(pid)] == [], "no process started under dev.py is left"


def test_a_sigterm_to_dev_py_up_stops_every_service_and_frees_every_port(ports, tmp_path):
    process = dev_up(ports, tmp_path)
    started_under_it = descendants(process.pid)

    process.send_signal(signal.SIGTERM)

    assert process.wait() == 0, "the services stop cleanly, and dev.py with them"
    assert_stopped_entirely(process, started_under_it, ports)


def test_a_sigkill_to_dev_py_up_leaves_no_orphan_and_the_next_start_finds_its_ports_free(ports, tmp_path):
    process = dev_up(ports, tmp_path)
    started_under_it = descendants(process.pid)
    assert started_under_it == set(), "dev.py up is the services' process itself: there is no child to orphan"

    process.send_signal(signal.SIGKILL)
    process.wait()

    assert_stopped_entirely(process, started_under_it, ports)
    again = dev_up(ports, tmp_path)  # no "Address already in use"
    again.send_signal(signal.SIGTERM)
    assert again.wait() == 0
    assert "Address already in use" not in (tmp_path / "dev-up.log").read_text()


CHILD = textwrap.dedent(
    """
    import signal, sys, time
    from pathlib import Path
    marker = Path(sys.argv[1])
    def stop(signum, _frame):
        marker.write_text(signal.Signals(signum).name)
        sys.exit(3)
    signal.signal(signal.SIGTERM, stop)
    marker.write_text("ready")
    while True:
        time.sleep(0.1)
    """
)


def test_dev_py_passes_a_sigterm_on_to_the_command_it_waits_for_and_ends_with_its_exit_code(tmp_path):
    marker = tmp_path / "child"
    # dev.call is what runs the static checks and pytest for `dev.py check` and `dev.py test`.
    runner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(ROOT)!r}); import dev; "
            f"sys.exit(dev.call([sys.executable, '-c', {CHILD!r}, {str(marker)!r}]))",
        ],
        cwd=tmp_path,
    )
    eventually(lambda: marker.exists() and marker.read_text() == "ready", what="the child starting")
    [child] = descendants(runner.pid)

    runner.send_signal(signal.SIGTERM)

    assert runner.wait() == 3, "dev.py waited for its child and ended with its exit code"
    assert marker.read_text() == "SIGTERM"
    assert not alive(child)
