"""Exceptions a handler raises to tell the consumer runner what to do with a message. No kombu here."""


class PoisonMessage(Exception):
    """The event can never be handled (for instance, it names something that does not exist): dead-letter it now."""
