#!/usr/bin/env python3
"""Install and run, with nothing but Python 3.11:

    python3 dev.py up      install, then run the whole system (scheduler, transport, notifications)
    python3 dev.py test    install, then run the static checks and every test (extra arguments go to pytest)
    python3 dev.py check   install, then run the static checks alone (ruff, mypy)

Dependencies go into .venv beside this file, reinstalled whenever pyproject.toml changes.
"""

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
STAMP = VENV / ".installed-from"


def install() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this file is run by whatever python3 the machine has
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}.")
    if not PYTHON.exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    print("installing dependencies into .venv ...", flush=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[test]"], check=True)
    STAMP.write_text(wanted)


CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def ensure_browser() -> None:
    """Pages are tested in a real headless Chromium: Debian's package, installed here when it is missing; and checked
    with axe-core, installed from npm into tests/browser/node_modules."""
    ensure_axe()
    if any(shutil.which(name) for name in CHROMIUM_NAMES):
        return
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        print("installing Chromium (Debian's chromium package) ...", flush=True)
        quiet = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=True, env=quiet)
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=True, env=quiet)
    else:
        print("Chromium is missing and cannot be installed from here: install it (Debian: `apt-get install chromium`);")
        print("the browser tests fail without it.", flush=True)


AXE_FOLDER = ROOT / "tests" / "browser"


def ensure_axe() -> None:
    """The accessibility checks run axe-core (npm) in the page."""
    if (AXE_FOLDER / "node_modules" / "axe-core" / "axe.min.js").exists():
        return
    if not shutil.which("npm"):
        print("npm is missing: the browser tests' accessibility checks need axe-core from npm.", flush=True)
        return
    print("installing axe-core (npm) into tests/browser/node_modules ...", flush=True)
    command = ["npm", "install", "--prefix", str(AXE_FOLDER), "--no-save", "--no-package-lock", "--no-audit"]
    subprocess.run([*command, "--no-fund", "axe-core@4"], check=True)


# What every change must pass before the tests run; their settings are in pyproject.toml.
STATIC_CHECKS = (
    ("ruff check", ["-m", "ruff", "check", "."]),
    ("ruff format --check", ["-m", "ruff", "format", "--check", "."]),
    ("mypy", ["-m", "mypy"]),
)


def static_checks() -> int:
    for name, arguments in STATIC_CHECKS:
        print(f"--- {name}", flush=True)
        code = call([str(PYTHON), *arguments])
        if code != 0:
            print(f"{name} failed (exit {code}).", file=sys.stderr)
            return code
    return 0


def up() -> int:
    """Become the system: the services run in this very process, so its id is theirs.

    Whoever stops this process by its id (kill, a service manager, an IDE's stop button) stops the services: no
    child is left behind holding the ports.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "nt":  # no exec that keeps the process on Windows
        return call([str(PYTHON), "-m", "services"])
    os.execv(str(PYTHON), [str(PYTHON), "-m", "services"])
    return 1  # not reached: execv replaced this program


FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def call(arguments: list[str]) -> int:
    """Run a child to its end; a SIGTERM or SIGINT sent to this process is passed on to it, and its end awaited."""
    child = subprocess.Popen(arguments)

    def forward(signum, _frame):
        if signum == signal.SIGINT and _from_the_terminal():
            return  # Ctrl-C reached the child too, from the terminal: a second one would cut its clean-up short
        if child.poll() is None:
            child.send_signal(signum)

    previous = {signum: signal.signal(signum, forward) for signum in FORWARDED_SIGNALS}
    try:
        return child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _from_the_terminal() -> bool:
    """Whether this process is in the terminal's foreground group, where Ctrl-C signals the whole group."""
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except (OSError, AttributeError, ValueError):
        return False


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "help"
    if command not in ("up", "test", "check"):
        print(__doc__)
        return 0 if command in ("help", "-h", "--help") else 2
    install()
    os.chdir(ROOT)
    if command == "up":
        return up()
    if command == "test":
        ensure_browser()
    checked = static_checks()
    if command == "check" or checked != 0:
        return checked
    code = call([str(PYTHON), "-m", "pytest", *argv[1:]])
    if code == 5:
        print("pytest collected no tests: that is a failure here.", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
