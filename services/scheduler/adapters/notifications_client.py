"""What notifications sent for a session, asked of its API (``GET /api/messages?session_id=``) for the front desk's
pages: the board's badge for the instructions and the session page's list of messages.

A page must not wait on another service: each answer is kept for a short while, each call has a short timeout, and
once notifications does not answer it is not asked again for a while; the pages then say "unknown".
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

import requests

from shared.contract.fields import is_id
from shared.service_client import service_session

log = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:8003"
TIMEOUT = (0.5, 1.5)
FRESH_FOR = 20.0  # seconds an answer is kept
AWAY_FOR = 30.0  # seconds notifications is left alone after it did not answer
MOST_KEPT = 1000


@dataclass(frozen=True)
class SentMessage:
    """One message of a session as notifications reports it (never its text: the pages need its state only)."""

    kind: str
    recipient: str
    channel: str | None
    status: str
    due_at: datetime | None
    sent_at: datetime | None


class NotificationsClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._base_url = base_url.rstrip("/")
        self._session = session or service_session(token, retries=0, timeout=TIMEOUT)
        self._clock = clock
        self._kept: dict[str, tuple[float, list[SentMessage]]] = {}
        self._away_until = 0.0
        self._lock = threading.Lock()

    def messages_of(self, session_id: str) -> list[SentMessage] | None:
        """The session's messages, oldest first; None when notifications cannot say right now."""
        if not is_id(session_id):
            return None
        now = self._clock()
        with self._lock:
            kept = self._kept.get(session_id)
            if kept is not None and now - kept[0] < FRESH_FOR:
                return kept[1]
            if now < self._away_until:
                return None
        messages = self._fetch(session_id)
        with self._lock:
            if messages is None:
                self._away_until = self._clock() + AWAY_FOR
                return None
            if len(self._kept) >= MOST_KEPT:
                self._kept.clear()
            self._kept[session_id] = (self._clock(), messages)
        return messages

    def _fetch(self, session_id: str) -> list[SentMessage] | None:
        url = f"{self._base_url}/api/messages?session_id={quote(session_id, safe='')}"
        try:
            response = self._session.get(url)
            if response.status_code != 200:
                log.warning("notifications answered %s for a session's messages", response.status_code)
                return None
            return [_message(item) for item in response.json()["messages"]]
        except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
            log.warning("notifications did not answer for a session's messages: %s", type(exc).__name__)
            return None


def _message(item: dict) -> SentMessage:
    return SentMessage(
        kind=str(item["kind"]),
        recipient=str(item.get("recipient") or ""),
        channel=item.get("channel"),
        status=str(item["status"]),
        due_at=_instant(item.get("due_at")),
        sent_at=_instant(item.get("sent_at")),
    )


def _instant(text: object) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) and text else None
