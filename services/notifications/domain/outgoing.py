"""What leaves the clinic, and the port it leaves through: an e-mail or a text, handed to a channel.

A channel is e-mail over SMTP, SMS through an HTTP gateway, or, with neither configured, the local outbox that only
keeps the message (``stored``, never ``sent``). The message's id is the idempotency key wherever the channel has one.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

EMAIL = "email"
SMS = "sms"
CHANNELS = (EMAIL, SMS)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # e.g. "text/calendar"
    data: bytes

    def __repr__(self) -> str:
        return f"Attachment({self.filename!r}, {self.content_type!r}, {len(self.data)} bytes)"


@dataclass(frozen=True)
class Outgoing:
    """One message ready to go: where to (an address or a phone number) and the rendered text."""

    message_id: str
    channel: str  # EMAIL or SMS
    to: str
    body: str
    subject: str | None = None  # e-mail only
    attachments: tuple[Attachment, ...] = field(default=())

    def __repr__(self) -> str:
        # A message in a traceback or a log line shows its id and channel, never its address or text.
        return f"Outgoing({self.message_id!r}, {self.channel!r})"


class ReceiptStatus(StrEnum):
    STORED = "stored"  # kept in the local outbox: nothing left the clinic
    SENT = "sent"  # the SMTP server or the SMS gateway took it
    DELIVERED = "delivered"  # the gateway reports it reached the phone


@dataclass(frozen=True)
class Receipt:
    status: ReceiptStatus
    gateway_id: str | None = None


class DeliveryFailed(Exception):
    """The channel did not take the message. ``permanent``: trying again cannot help (a refused address, a number
    that cannot receive texts), so the other channel is tried; otherwise the message waits and is tried again.

    ``reason`` says what failed in words that carry no patient data (never the address, never the text).
    """

    def __init__(self, reason: str, *, permanent: bool):
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Channel(Protocol):
    name: str  # EMAIL or SMS

    def send(self, outgoing: Outgoing) -> Receipt:
        """Hand the message over, or raise DeliveryFailed; sending the same message_id again is not a second one
        where the channel can tell (the SMS gateway's idempotency key)."""
        ...
