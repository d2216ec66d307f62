"""Gateways that deliver messages: kept in the database (the default), or posted to an HTTP gateway."""

import logging

import requests

from shared.service_client import DEFAULT_TIMEOUT

from ..domain.delivery import DeliveryFailed
from ..domain.messages import Message

log = logging.getLogger(__name__)


class KeepInDatabase:
    """The default: the message row in the notifications database is the delivery; nothing leaves the clinic."""

    def deliver(self, message: Message, address: str) -> None:
        log.info("message %s kept in the database (%s)", message.id, message.channel)


class HttpGateway:
    """Posts each message to an e-mail/SMS provider's HTTP API, with the message id as idempotency key."""

    def __init__(self, url: str, token: str | None = None, session: requests.Session | None = None):
        self._url = url
        self._session = session or requests.Session()
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"

    def deliver(self, message: Message, address: str) -> None:
        try:
            response = self._session.post(
                self._url,
                json={
                    "message_id": message.id,
                    "channel": message.channel,
                    "to": address,
                    "subject": message.subject,
                    "body": message.body,
                },
                headers={"Idempotency-Key": message.id},
                timeout=DEFAULT_TIMEOUT,
            )
        except requests.RequestException as exc:
            raise DeliveryFailed(f"gateway unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 300:
            raise DeliveryFailed(f"gateway answered {response.status_code}")
