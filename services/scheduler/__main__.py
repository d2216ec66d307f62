"""``python -m services.scheduler``: the scheduler's HTTP API, pages and outbox relay; or, with a command, the staff
accounts' commands (``create-user USERNAME --role ROLE --password-stdin``, ``deactivate-user USERNAME``) and the dead
letters' (``dead-letters list|replay|discard --queue Q [--event-id ID ...|--all] [--reason R]``)."""

import sys

from shared.logging_setup import configure_logging
from shared.runtime import run_until_signalled
from shared.settings import Settings

from . import SERVICE_NAME
from .bootstrap import bootstrap
from .cli import run_command


def main(argv: list[str]) -> int:
    settings = Settings.from_environment(SERVICE_NAME)
    configure_logging(settings.log_level)
    if argv:
        return run_command(argv, settings=settings)
    run_until_signalled(bootstrap(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
