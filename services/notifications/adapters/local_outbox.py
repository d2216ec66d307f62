"""The local outbox: the channel of the embedded default, when no SMTP server or SMS gateway is configured.

It keeps nothing itself: the message's row in the notifications database, with its rendered text, is the outbox
that the API and the messages page show. Its receipt says ``stored``, never ``sent``: nothing left the clinic.
"""

import logging

from ..domain.outgoing import Outgoing, Receipt, ReceiptStatus

log = logging.getLogger(__name__)


class LocalOutboxChannel:
    def __init__(self, name: str):
        self.name = name

    def send(self, outgoing: Outgoing) -> Receipt:
        log.info("message %s kept in the local outbox (%s): nothing was sent", outgoing.message_id, self.name)
        return Receipt(ReceiptStatus.STORED)

    def __repr__(self) -> str:
        return f"LocalOutboxChannel({self.name!r})"
