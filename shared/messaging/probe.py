"""Does the broker answer? A short connection check for readiness probes, its answer kept a few seconds.

Probes come often (docker-compose, Kubernetes, the ops page); a connection per probe would be noise on the broker.
"""

import logging
import threading
import time
from collections.abc import Callable

from shared.redaction import describe

from .broker import connect, is_amqp

log = logging.getLogger(__name__)


class BrokerProbe:
    """``probe()`` returns None when the broker answers, else a short reason (never the URL: it holds credentials)."""

    def __init__(
        self,
        broker_url: str,
        *,
        timeout: float = 2.0,
        cache_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._url = broker_url
        self._timeout = timeout
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._answer: tuple[float, str | None] | None = None

    def __call__(self) -> str | None:
        if not is_amqp(self._url):
            return None  # the in-memory broker lives in this process: it answers while the process does
        with self._lock:
            if self._answer is not None and self._clock() - self._answer[0] < self._cache_seconds:
                return self._answer[1]
            problem = self._check()
            self._answer = (self._clock(), problem)
            return problem

    def _check(self) -> str | None:
        connection = connect(self._url, connect_timeout=self._timeout, read_timeout=self._timeout)
        try:
            connection.connect()
        except Exception as exc:  # any failure to connect means the same to a probe
            log.debug("broker probe failed: %s", describe(exc))
            return f"unreachable ({type(exc).__name__})"
        finally:
            connection.release()
        return None
