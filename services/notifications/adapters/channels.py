"""Which channel carries each kind of message, from the environment, decided once at start.

``SMTP_URL`` and ``SMTP_FROM`` give e-mail over SMTP; ``SMS_GATEWAY_URL`` and ``SMS_GATEWAY_TOKEN`` give SMS
through the gateway. A channel with neither of its settings keeps its messages in the local outbox; one with only
half of them, or a URL that cannot be used, stops the service at start with the variable's name, rather than
quietly keeping messages that were meant to leave.
"""

import logging
from collections.abc import Mapping
from urllib.parse import urlsplit

from ..domain.outgoing import EMAIL, SMS, Channel
from .email_smtp import InvalidSmtpUrl, SmtpChannel
from .local_outbox import LocalOutboxChannel
from .sms_gateway import SmsGatewayChannel

log = logging.getLogger(__name__)


class ChannelSettingsError(ValueError):
    """A channel's settings cannot be used; the text names the variable and never repeats a secret."""


def channels_from_environment(environ: Mapping[str, str]) -> dict[str, Channel]:
    return {EMAIL: _email(environ), SMS: _sms(environ)}


def _email(environ: Mapping[str, str]) -> Channel:
    settings = _pair(environ, "SMTP_URL", "SMTP_FROM")
    if settings is None:
        log.warning("SMTP_URL is not set: e-mails are kept in the local outbox, none is sent")
        return LocalOutboxChannel(EMAIL)
    url, sender = settings
    try:
        channel = SmtpChannel(url, sender)
    except InvalidSmtpUrl as bad:
        raise ChannelSettingsError(f"SMTP_URL {bad}") from None
    except ValueError as bad:
        raise ChannelSettingsError(f"SMTP_FROM {bad}") from None
    log.info("e-mail goes to the SMTP server at %s", channel.server.describe())
    return channel


def _sms(environ: Mapping[str, str]) -> Channel:
    settings = _pair(environ, "SMS_GATEWAY_URL", "SMS_GATEWAY_TOKEN")
    if settings is None:
        log.warning("SMS_GATEWAY_URL is not set: texts are kept in the local outbox, none is sent")
        return LocalOutboxChannel(SMS)
    url, token = settings
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port that is not a number raises only when read
    except ValueError:
        raise ChannelSettingsError("SMS_GATEWAY_URL is not a URL with a valid port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ChannelSettingsError("SMS_GATEWAY_URL must be an http:// or https:// URL with a host")
    if parts.username is not None or parts.query or parts.fragment:
        raise ChannelSettingsError("SMS_GATEWAY_URL takes no credentials, query or fragment: the token is separate")
    log.info("texts go to the SMS gateway at %s://%s", parts.scheme, parts.netloc)
    return SmsGatewayChannel(url, token)


def _pair(environ: Mapping[str, str], first: str, second: str) -> tuple[str, str] | None:
    """Both settings, neither (None), or an error naming the one that is missing."""
    values = {name: environ.get(name, "").strip() or None for name in (first, second)}
    if values[first] is None and values[second] is None:
        return None
    for name, other in ((first, second), (second, first)):
        if values[name] is None:
            raise ChannelSettingsError(f"{name} is not set, but {other} is: set both, or neither")
    return values[first] or "", values[second] or ""
