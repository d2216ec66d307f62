"""``python -m services.notifications``: the notifications's HTTP API, its consumer and its outbox relay."""

from shared.logging_setup import configure_logging
from shared.runtime import run_until_signalled
from shared.settings import Settings

from . import SERVICE_NAME
from .bootstrap import bootstrap

settings = Settings.from_environment(SERVICE_NAME)
configure_logging(settings.log_level)
run_until_signalled(bootstrap(settings))
