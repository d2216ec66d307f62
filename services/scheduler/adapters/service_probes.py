"""Each service's readiness as the ops page shows it: transport's and notifications' ``/readyz`` asked over HTTP with
a short timeout (all at once, so the page waits for the slowest only), the scheduler's own read in-process.

A service that does not answer is shown as such; nothing here raises to the page.
"""

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

import requests

from shared.redaction import describe

from ..domain.ops import LastHandled, ServiceState

log = logging.getLogger(__name__)

DEFAULT_URLS = {"transport": "http://127.0.0.1:8002", "notifications": "http://127.0.0.1:8003"}
URL_SETTINGS = {"transport": "TRANSPORT_URL", "notifications": "NOTIFICATIONS_URL"}
TIMEOUT = (0.5, 1.5)  # connect, read: a probe answers at once or the service is in trouble


def service_urls(environ: Mapping[str, str]) -> dict[str, str]:
    """Where transport and notifications listen: TRANSPORT_URL and NOTIFICATIONS_URL, or their local defaults."""
    return {name: (environ.get(URL_SETTINGS[name]) or default).rstrip("/") for name, default in DEFAULT_URLS.items()}


def state_from_readiness(name: str, url: str | None, status_code: int, document: object) -> ServiceState:
    """A service's state from its /readyz answer (200 ready, 503 not ready, both with the JSON of design section B)."""
    if not isinstance(document, dict) or "status" not in document:
        return ServiceState(
            name, url, reachable=True, ready=False, error=f"its /readyz answered {status_code} without a readiness"
        )
    checks = document.get("checks") if isinstance(document.get("checks"), dict) else {}
    problems = tuple(
        f"{check}: {(result or {}).get('detail') or 'failing'}"
        for check, result in checks.items()
        if not isinstance(result, dict) or not result.get("ok")
    )
    consumer = document.get("consumer") if isinstance(document.get("consumer"), dict) else {}
    outbox = document.get("outbox") if isinstance(document.get("outbox"), dict) else {}
    figures = document.get("figures") if isinstance(document.get("figures"), dict) else {}
    last = consumer.get("last_handled")
    last_handled = (
        LastHandled(type=_text(last.get("type")), event_id=_text(last.get("event_id")), at=_text(last.get("at")))
        if isinstance(last, dict)
        else None
    )
    return ServiceState(
        name=name,
        url=url,
        reachable=True,
        ready=document.get("status") == "ready" and status_code == 200,
        problems=problems,
        consumer_status=_consumer_status(consumer),
        last_handled=last_handled,
        outbox_pending=_number(outbox.get("pending"), int),
        oldest_unsent_age_seconds=_number(outbox.get("oldest_unsent_age_seconds"), float),
        figures={key: value for key, value in figures.items() if isinstance(value, int | float | str)},
    )


class ServiceProbes:
    """``states()``: the scheduler's own readiness (``local``, its /readyz status and JSON) and the others' by HTTP."""

    def __init__(
        self,
        urls: Mapping[str, str],
        *,
        local: Callable[[], tuple[int, object]] | None = None,
        local_name: str = "scheduler",
        session: requests.Session | None = None,
        timeout: tuple[float, float] = TIMEOUT,
    ):
        self._urls = dict(urls)
        self._local = local
        self._local_name = local_name
        self._session = session or requests.Session()
        self._timeout = timeout
        self._pool = ThreadPoolExecutor(max_workers=max(len(self._urls), 1), thread_name_prefix="ops-probe")

    def states(self) -> list[ServiceState]:
        remote = {name: self._pool.submit(self._probe, name, url) for name, url in self._urls.items()}
        states = [self._own()] if self._local is not None else []
        states.extend(future.result() for future in remote.values())
        return states

    def _own(self) -> ServiceState:
        try:
            status_code, document = self._local()  # type: ignore[misc]  # checked by the caller
        except Exception as exc:
            log.warning("the scheduler's own readiness failed: %s", describe(exc))
            return ServiceState(self._local_name, None, reachable=True, ready=False, error=describe(exc))
        return state_from_readiness(self._local_name, None, status_code, document)

    def _probe(self, name: str, url: str) -> ServiceState:
        try:
            answer = self._session.get(f"{url}/readyz", timeout=self._timeout)
        except requests.RequestException as exc:
            return ServiceState(name, url, reachable=False, ready=False, error=_why(exc))
        try:
            document = answer.json()
        except ValueError:
            document = None
        return state_from_readiness(name, url, answer.status_code, document)


def _why(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        return "connection refused or lost"
    return type(exc).__name__


def _consumer_status(consumer: Mapping) -> str | None:
    """In words, from EventConsumer.status() as /readyz gives it: {"consuming": bool, "stuck": bool, ...}."""
    if consumer.get("stuck") is True:
        return "stuck"
    if isinstance(consumer.get("consuming"), bool):
        return "consuming" if consumer["consuming"] else "not consuming"
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: object, kind: type) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return kind(value)
