"""The escort's confirmation link, asked of transport's API when the escort's message is sent.

The link is a bearer credential: it goes into the message and nowhere else (no log line, no exception text).
"""

from datetime import datetime
from urllib.parse import quote, urlsplit

import requests

from shared.contract.fields import is_id
from shared.service_client import service_session

from ..domain.rides import EscortLink, NoLongerAwaitingEscort
from .scheduler_directory import RETRIES, TIMEOUT


class TransportUnavailable(Exception):
    """Transport gave no link (down, failing, or not yet committed the ride): the message is tried again later."""


class TransportLinks:
    def __init__(self, base_url: str, token: str, *, session: requests.Session | None = None):
        self._base_url = base_url.rstrip("/")
        # Same bounds as the scheduler's: the delivery worker waits on this answer.
        self._session = session or service_session(token, retries=RETRIES, timeout=TIMEOUT)

    def escort_link(self, ride_id: str) -> EscortLink:
        if not is_id(ride_id):  # the contract refuses such ids already; a path is never built from one
            raise NoLongerAwaitingEscort()
        try:
            response = self._session.get(f"{self._base_url}/api/rides/{quote(ride_id, safe='')}/escort-link")
        except requests.RequestException as exc:
            raise TransportUnavailable(f"GET escort-link: {type(exc).__name__}") from exc
        if response.status_code == 409:
            raise NoLongerAwaitingEscort()
        # 404 too: the ride's event can reach us before transport's own reads see the ride, so it is worth waiting.
        if response.status_code != 200:
            raise TransportUnavailable(f"transport answered {response.status_code}")
        try:
            document = response.json()
            url, expires_at = document["url"], document.get("expires_at")
            expires = datetime.fromisoformat(expires_at) if expires_at else None
            return EscortLink(url=_checked_url(url), expires_at=expires)
        except (ValueError, KeyError, TypeError, AttributeError):
            # Never chained: the parse error's message could quote the link.
            raise TransportUnavailable("transport answered no usable link") from None


def _checked_url(url) -> str:
    if not isinstance(url, str) or any(c.isspace() or not c.isprintable() for c in url):
        raise ValueError("not a link")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("not a link")
    return url
