"""The port through which messages leave the clinic: e-mail, SMS, or the database in development."""

from typing import Protocol

from .messages import Message


class DeliveryFailed(Exception):
    """The gateway did not take the message; trying again may help."""


class Gateway(Protocol):
    def deliver(self, message: Message, address: str) -> None:
        """Hand the message over; ``message.id`` is the idempotency key, so a resend is not a second message."""
