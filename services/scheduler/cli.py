"""The scheduler's commands for people at a terminal: creating and deactivating staff accounts.

A password is read from standard input only, never from the command line, where ``ps`` and the shell's history
would show it.
"""

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TextIO

from shared.persistence import create_database_engine, upgrade_to_head, utcnow
from shared.settings import Settings

from . import SERVICE_NAME
from .adapters import tables
from .adapters.passwords import Passwords
from .adapters.unit_of_work import SchedulerUnitOfWork
from .bootstrap import MIGRATIONS
from .domain.errors import InvalidRequest, Refused
from .domain.staff import Role
from .staff_handlers import create_account, deactivate_account

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_WEAK_PASSWORD = 3
EXIT_REFUSED = 4

COMMANDS = ("create-user", "deactivate-user")


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.scheduler", description="Staff accounts.")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-user", help="create a staff account")
    create.add_argument("username")
    create.add_argument("--role", required=True, choices=[role.value for role in Role])
    create.add_argument(
        "--password-stdin", action="store_true", required=True, help="read the password from standard input"
    )
    deactivate = commands.add_parser("deactivate-user", help="end a staff account's sessions and refuse its sign-ins")
    deactivate.add_argument("username")
    return parser


def run_command(
    argv: Sequence[str],
    *,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    stderr: TextIO = sys.stderr,
    settings: Settings | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as exit:  # argparse printed the usage and why
        return EXIT_USAGE if exit.code else EXIT_OK
    settings = settings or Settings.from_environment(SERVICE_NAME)
    uow = _unit_of_work(settings)
    try:
        if args.command == "create-user":
            # One line: a trailing newline from `echo` or a here-string is not part of the password.
            password = stdin.readline().removesuffix("\n").removesuffix("\r")
            account = create_account(
                args.username, Role(args.role), password, uow=uow, passwords=Passwords(), now=clock()
            )
            print(f"Created {account.username} ({account.role.value}).", file=stdout)
        else:
            account = deactivate_account(args.username, uow=uow, now=clock())
            print(f"Deactivated {account.username}; their sessions are over.", file=stdout)
    except InvalidRequest as refusal:
        [(field, [message, *_])] = list(refusal.errors.items())[:1]
        print(f"Not created: {message}", file=stderr)
        return EXIT_WEAK_PASSWORD if field == "password" else EXIT_USAGE
    except Refused as refusal:
        print(f"Refused: {refusal.message}", file=stderr)
        return EXIT_REFUSED
    return EXIT_OK


def _unit_of_work(settings: Settings) -> SchedulerUnitOfWork:
    engine = create_database_engine(settings.database_url, schema=SERVICE_NAME)
    upgrade_to_head(engine, MIGRATIONS, schema=SERVICE_NAME)
    return SchedulerUnitOfWork(engine, tables.messaging, SERVICE_NAME)
