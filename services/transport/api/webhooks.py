"""The ride provider's webhooks: outside /api, without a bearer token; the HMAC signature over the raw body is the
key. Anything that does not verify is a 4xx that changes nothing and logs only why, never the body."""

import logging
from collections.abc import Callable
from datetime import datetime

from flask import Blueprint, jsonify, request

from shared.web import error_body

from .. import handlers
from ..adapters.webhook_signatures import InvalidWebhook, verify_webhook

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/ride-provider"
# Who sent it cannot be told: 401. What was sent is not a webhook: 400.
UNAUTHENTICATED = frozenset({"missing signature", "bad signature", "timestamp too old", "timestamp in the future"})


def create_webhooks(*, uow_factory: Callable, secret: str, clock: Callable[[], datetime]) -> Blueprint:
    webhooks = Blueprint("provider_webhooks", __name__)

    @webhooks.post(WEBHOOK_PATH)
    def ride_provider():
        raw_body = request.get_data(cache=False)
        try:
            notice = verify_webhook(raw_body, request.headers, secret, now=clock().timestamp())
        except InvalidWebhook as invalid:
            log.warning("webhook refused: %s", invalid.reason)
            status = 401 if invalid.reason in UNAUTHENTICATED else 400
            return jsonify(error_body("_request", f"Not a webhook of the ride provider: {invalid.reason}.")), status
        outcome = handlers.receive_webhook(notice, uow=uow_factory(), now=clock())
        return jsonify({"outcome": outcome}), 200

    return webhooks
