"""Signing and verifying the ride provider's webhooks.

The scheme is the one of the Standard Webhooks specification: the provider signs f"{id}.{timestamp}." followed by the
raw body with HMAC-SHA256 and a shared secret, so a body cannot be changed, nor an old webhook replayed with a new
timestamp. The body is read only once the signature holds, and no reason given here repeats any of it.
"""

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import datetime

from services.transport.domain.provider import WebhookNotice
from shared.contract.fields import ID_PATTERN

ID_HEADER = "Webhook-Id"
TIMESTAMP_HEADER = "Webhook-Timestamp"
SIGNATURE_HEADER = "Webhook-Signature"
SIGNATURE_VERSION = "v1"
MAX_BODY_BYTES = 64 * 1024

_ID = re.compile(ID_PATTERN)
_TYPE = re.compile(r"[a-z][a-z_]{0,62}(\.[a-z][a-z_]{0,62}){1,3}")
_STATUS = re.compile(r"[a-z][a-z_]{0,63}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class InvalidWebhook(Exception):
    """The request is not a webhook from the provider; `reason` says why, and never quotes the request."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def signature(raw_body: bytes, secret: str, *, webhook_id: str, timestamp: int) -> str:
    signed = f"{webhook_id}.{timestamp}.".encode() + raw_body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(raw_body: bytes, secret: str, *, webhook_id: str, timestamp: int) -> dict[str, str]:
    """The three headers that go with `raw_body`."""
    hex_digest = signature(raw_body, secret, webhook_id=webhook_id, timestamp=timestamp)
    return {
        ID_HEADER: webhook_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: f"{SIGNATURE_VERSION}={hex_digest}",
    }


def verify_webhook(
    raw_body: bytes, headers: Mapping[str, str], secret: str, *, now: float, tolerance: float = 300
) -> WebhookNotice:
    """The notice in a webhook whose signature holds and whose timestamp is within `tolerance` seconds of `now`."""
    lowered = {name.lower(): value for name, value in headers.items()}
    webhook_id = lowered.get(ID_HEADER.lower())
    timestamp_text = lowered.get(TIMESTAMP_HEADER.lower())
    signatures = lowered.get(SIGNATURE_HEADER.lower())
    if not webhook_id or not timestamp_text or not signatures:
        raise InvalidWebhook("missing signature")
    if not _ID.fullmatch(webhook_id):
        raise InvalidWebhook("bad webhook id")
    if not _TIMESTAMP.fullmatch(timestamp_text.strip()):
        raise InvalidWebhook("bad timestamp")
    timestamp = int(timestamp_text)
    if now - timestamp > tolerance:
        raise InvalidWebhook("timestamp too old")
    if timestamp - now > tolerance:
        raise InvalidWebhook("timestamp in the future")
    expected = signature(raw_body, secret, webhook_id=webhook_id, timestamp=timestamp)
    # Several signatures may be sent (one per secret while a secret is being rotated): one good one is enough.
    offered = [
        value
        for version, _, value in (part.partition("=") for part in signatures.split())
        if version == SIGNATURE_VERSION
    ]
    if not any(hmac.compare_digest(expected.encode(), value.encode()) for value in offered if value.isascii()):
        raise InvalidWebhook("bad signature")
    return _notice(raw_body, webhook_id)


def _notice(raw_body: bytes, webhook_id: str) -> WebhookNotice:
    if len(raw_body) > MAX_BODY_BYTES:
        raise InvalidWebhook("not a webhook body")
    try:
        body = json.loads(raw_body)
        ride = body["ride"]
        notice = WebhookNotice(
            id=body["id"],
            type=body["type"],
            provider_ride_id=ride["id"],
            reference=ride["reference"],
            status=ride["status"],
            occurred_at=datetime.fromisoformat(body["occurred_at"]),
        )
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        raise InvalidWebhook("not a webhook body") from None
    if not all(
        isinstance(value, str)
        for value in (notice.id, notice.type, notice.provider_ride_id, notice.reference, notice.status)
    ):
        raise InvalidWebhook("not a webhook body")
    if notice.id != webhook_id:
        raise InvalidWebhook("webhook id does not match its body")
    if notice.occurred_at.utcoffset() is None:
        raise InvalidWebhook("not a webhook body")
    if not (
        _ID.fullmatch(notice.provider_ride_id)
        and _ID.fullmatch(notice.reference)
        and _TYPE.fullmatch(notice.type)
        and _STATUS.fullmatch(notice.status)
    ):
        raise InvalidWebhook("not a webhook body")
    return notice
