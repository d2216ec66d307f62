"""``python -m services.scheduler create-user USERNAME --role ROLE --password-stdin``: the first account and the
next ones, with clear refusals and exit codes."""

import io
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from services.scheduler.cli import EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_WEAK_PASSWORD, run_command
from shared.settings import Settings

PASSWORD = "correct horse battery staple"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def database_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'scheduler.sqlite3'}"


@pytest.fixture
def run(database_url):
    def run(*argv: str, stdin: str = PASSWORD + "\n") -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        settings = Settings(
            service="scheduler",
            broker_url="memory://",
            database_url=database_url,
            port=0,
            service_token="t",
            scheduler_url="http://127.0.0.1:1",
        )
        code = run_command(list(argv), stdin=io.StringIO(stdin), stdout=out, stderr=err, settings=settings)
        return code, out.getvalue(), err.getvalue()

    return run


def accounts(database_url) -> list[tuple]:
    with create_engine(database_url).connect() as connection:
        return list(connection.execute(text("SELECT username, role, active, password_hash FROM staff_accounts")))


def test_create_user_reads_the_password_from_stdin_and_stores_only_its_hash(run, database_url):
    code, out, err = run("create-user", "admin.bo", "--role", "admin", "--password-stdin")

    assert (code, out, err) == (EXIT_OK, "Created admin.bo (admin).\n", "")
    [(username, role, active, password_hash)] = accounts(database_url)
    assert (username, role, active) == ("admin.bo", "admin", 1)
    assert password_hash.startswith("$argon2id$") and PASSWORD not in password_hash


def test_a_weak_or_empty_password_is_refused_and_creates_nothing(run, database_url):
    empty = run("create-user", "admin.bo", "--role", "admin", "--password-stdin", stdin="")
    short = run("create-user", "admin.bo", "--role", "admin", "--password-stdin", stdin="hunter2\n")

    assert empty == (EXIT_WEAK_PASSWORD, "", "Not created: The password is empty.\n")
    assert short[0] == EXIT_WEAK_PASSWORD and "too short" in short[2]
    assert accounts(database_url) == []


def test_a_username_taken_already_is_refused(run, database_url):
    run("create-user", "desk.ann", "--role", "front_desk", "--password-stdin")

    code, out, err = run("create-user", "desk.ann", "--role", "admin", "--password-stdin")

    assert (code, out, err) == (EXIT_REFUSED, "", "Refused: There is already an account named desk.ann.\n")
    assert [row[:2] for row in accounts(database_url)] == [("desk.ann", "front_desk")]


def test_an_unknown_role_a_bad_username_or_a_missing_password_stdin_flag_is_a_usage_error(run, database_url, capsys):
    unknown_role = run("create-user", "desk.ann", "--role", "receptionist", "--password-stdin")
    bad_name = run("create-user", "Desk Ann", "--role", "front_desk", "--password-stdin")
    no_stdin_flag = run("create-user", "desk.ann", "--role", "front_desk")

    assert unknown_role[0] == bad_name[0] == no_stdin_flag[0] == EXIT_USAGE
    assert "invalid choice: 'receptionist'" in capsys.readouterr().err
    assert "A username is 3 to 64 lower-case letters" in bad_name[2]
    assert accounts(database_url) == []


def test_deactivate_user_ends_the_accounts_sign_ins(run, database_url):
    run("create-user", "desk.ann", "--role", "front_desk", "--password-stdin")

    code, out, _ = run("deactivate-user", "desk.ann")
    missing = run("deactivate-user", "nobody.here")

    assert code == EXIT_OK and "Deactivated desk.ann" in out
    assert accounts(database_url)[0][2] == 0
    assert missing[0] == EXIT_REFUSED and "There is no account named nobody.here." in missing[2]


def test_python_dash_m_services_scheduler_create_user_works_from_a_shell(tmp_path):
    database = tmp_path / "scheduler.sqlite3"
    environment = {"DATABASE_URL": f"sqlite:///{database}", "PATH": "/usr/bin:/bin", "SERVICE_TOKEN": "t"}

    created = subprocess.run(
        [sys.executable, "-m", "services.scheduler", "create-user", "admin.bo", "--role", "admin", "--password-stdin"],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
    )
    again = subprocess.run(
        [sys.executable, "-m", "services.scheduler", "create-user", "admin.bo", "--role", "admin", "--password-stdin"],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
    )

    assert created.returncode == 0 and created.stdout == "Created admin.bo (admin).\n"
    assert again.returncode == EXIT_REFUSED and "already an account named admin.bo" in again.stderr
    assert PASSWORD not in created.stderr + again.stderr
