"""The scheduler's commands for people at a terminal and for scripts: creating and deactivating staff accounts, and
the dead letters (``dead-letters list|replay|discard --queue Q [--event-id ID ...|--all] [--reason R]``), each
replay and discard audited under the actor "cli".

A password is read from standard input only, never from the command line, where ``ps`` and the shell's history
would show it.
"""

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TextIO

from shared.messaging import CLINIC_TOPOLOGY
from shared.messaging.dead_letters import BrokerUnavailable, DeadLetters
from shared.persistence import create_database_engine, upgrade_to_head, utcnow
from shared.settings import Settings

from . import SERVICE_NAME
from .adapters import tables
from .adapters.passwords import Passwords
from .adapters.unit_of_work import SchedulerUnitOfWork
from .bootstrap import MIGRATIONS
from .domain.errors import InvalidRequest, Refused
from .domain.staff import Role
from .ops_handlers import CLI_ACTOR, DeadLettersPort, discard_dead_letters, replay_dead_letters
from .staff_handlers import create_account, deactivate_account

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_WEAK_PASSWORD = 3
EXIT_REFUSED = 4
EXIT_NOT_FOUND = 5  # some of the event ids named were not in the dead-letter queue (the others were acted on)
EXIT_UNAVAILABLE = 6  # the broker did not answer; what it did not confirm is still in the dead-letter queue

COMMANDS = ("create-user", "deactivate-user", "dead-letters")
DEAD_LETTER_QUEUES = tuple(spec.dead_letter_queue for spec in CLINIC_TOPOLOGY.queues if spec.dead_letters)


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
    dead_letters = commands.add_parser(
        "dead-letters", help="list, replay or discard the messages of a dead-letter queue"
    )
    actions = dead_letters.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="one JSON object per dead letter, oldest first; they stay in the queue")
    listing.add_argument("--queue", required=True, choices=DEAD_LETTER_QUEUES)
    listing.add_argument("--limit", type=int, default=500)
    for action, help in (
        ("replay", "send dead letters back to the queue they came from (audited)"),
        ("discard", "throw dead letters away for good, with a reason (audited)"),
    ):
        command = actions.add_parser(action, help=help)
        command.add_argument("--queue", required=True, choices=DEAD_LETTER_QUEUES)
        selection = command.add_mutually_exclusive_group(required=True)
        selection.add_argument("--event-id", action="append", dest="event_ids", metavar="ID", help="repeatable")
        selection.add_argument("--all", action="store_true", help="every dead letter of the queue")
        if action == "discard":
            command.add_argument("--reason", required=True, help="kept in the audit trail")
    return parser


def run_command(
    argv: Sequence[str],
    *,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    stderr: TextIO = sys.stderr,
    settings: Settings | None = None,
    clock: Callable[[], datetime] = utcnow,
    dead_letters: DeadLettersPort | None = None,
) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as exit:  # argparse printed the usage and why
        return EXIT_USAGE if exit.code else EXIT_OK
    settings = settings or Settings.from_environment(SERVICE_NAME)
    if args.command == "dead-letters":
        return _dead_letters(args, settings, dead_letters, stdout=stdout, stderr=stderr, clock=clock)
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


def _dead_letters(
    args: argparse.Namespace,
    settings: Settings,
    dead_letters: DeadLettersPort | None,
    *,
    stdout: TextIO,
    stderr: TextIO,
    clock: Callable[[], datetime],
) -> int:
    if dead_letters is None:
        dead_letters = DeadLetters(settings.broker_url, CLINIC_TOPOLOGY)
    if args.action == "discard" and not " ".join(args.reason.split()):
        print("Not discarded: give a reason that is not blank.", file=stderr)
        return EXIT_USAGE
    try:
        if args.action == "list":
            for letter in dead_letters.list(args.queue, limit=max(args.limit, 0)):
                print(json.dumps(letter.to_dict()), file=stdout)
            return EXIT_OK
        selection = None if args.all else args.event_ids
        if args.action == "replay":
            outcome = replay_dead_letters(
                args.queue,
                selection,
                dead_letters=dead_letters,
                uow=_unit_of_work(settings),
                actor=CLI_ACTOR,
                now=clock(),
            )
        else:
            outcome = discard_dead_letters(
                args.queue,
                selection,
                " ".join(args.reason.split()),
                dead_letters=dead_letters,
                uow=_unit_of_work(settings),
                actor=CLI_ACTOR,
                now=clock(),
            )
    except BrokerUnavailable as exc:
        done = len(exc.outcome.done) if exc.outcome is not None else 0
        print(f"The broker did not answer: {done} done before it went away; the rest is still queued.", file=stderr)
        return EXIT_UNAVAILABLE
    verb = "Replayed" if args.action == "replay" else "Discarded"
    print(f"{verb} {len(outcome.done)} from {args.queue}: {' '.join(outcome.done) or '-'}", file=stdout)
    if outcome.not_found:
        print(f"Not in {args.queue}: {' '.join(outcome.not_found)}", file=stderr)
        return EXIT_NOT_FOUND
    return EXIT_OK


def _unit_of_work(settings: Settings) -> SchedulerUnitOfWork:
    engine = create_database_engine(settings.database_url, schema=SERVICE_NAME)
    upgrade_to_head(engine, MIGRATIONS, schema=SERVICE_NAME)
    return SchedulerUnitOfWork(engine, tables.messaging, SERVICE_NAME)
