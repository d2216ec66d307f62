"""One log format for every process. Log identifiers, never a name, phone, e-mail or address."""
import logging


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s",
    )
    for noisy in ("amqp", "kombu", "waitress.queue", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
