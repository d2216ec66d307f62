"""The ride provider's HTTP API, as transport uses it: book, move, dispatch and cancel a ride.

Every call carries an idempotency key, so a call whose answer was lost (a timeout, a 5xx after the provider had
committed) is simply sent again with the same key: the provider answers with the ride it already has, and no second
driver is booked. Timeouts, connection errors, 408, 429 and 5xx are retried with exponential backoff and jitter;
another 4xx is the provider's decision and is not. Nothing logged here carries a body: the addresses are patient
data.
"""

import logging
import re
from datetime import datetime
from urllib.parse import quote

import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from services.transport.domain.provider import ProviderBooking, ProviderRide

log = logging.getLogger(__name__)

RETRIED_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_ERROR_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")


class ProviderUnavailable(Exception):
    """Timeouts, connection errors, 5xx after the retries: try again later."""


class ProviderRefused(Exception):
    """A 4xx: the provider will not do this (code attribute: the provider's error code, no patient data)."""

    def __init__(self, code: str, status: int):
        # The provider's message may quote what it refused (an address): only its code and the status are kept.
        super().__init__(f"ride provider refused ({status}): {code}")
        self.code = code
        self.status = status


class ProviderRideNotFound(ProviderRefused):
    """404: the provider knows no ride of that id."""


class ProviderConflict(ProviderRefused):
    """409: the ride's status forbids it (e.g. dispatching a cancelled ride)."""


class _Transient(Exception):
    """One attempt that may succeed if made again."""


class RideProviderClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float | tuple[float, float] = (3.05, 10),
        attempts: int = 4,
        backoff: float = 0.5,
        session: requests.Session | None = None,
    ):
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self._api_key = api_key
        self._session = session or requests.Session()

    def book(self, booking: ProviderBooking, *, idempotency_key: str | None = None) -> ProviderRide:
        body = {
            "reference": booking.ride_id,
            "pickup_at": _instant(booking.pickup_at),
            "pickup_address": booking.pickup_address,
            "dropoff_address": booking.dropoff_address,
            "will_call": booking.will_call,
        }
        key = idempotency_key or f"book-{booking.ride_id}"
        return self._call("POST", "/v1/rides", "book", json=body, idempotency_key=key)

    def move(self, provider_ride_id: str, pickup_at: datetime, *, idempotency_key: str) -> ProviderRide:
        return self._call(
            "PATCH",
            f"/v1/rides/{_segment(provider_ride_id)}",
            "move",
            json={"pickup_at": _instant(pickup_at)},
            idempotency_key=idempotency_key,
        )

    def dispatch(self, provider_ride_id: str, *, idempotency_key: str) -> ProviderRide:
        return self._call(
            "POST", f"/v1/rides/{_segment(provider_ride_id)}/dispatch", "dispatch", idempotency_key=idempotency_key
        )

    def cancel(self, provider_ride_id: str, *, idempotency_key: str) -> ProviderRide:
        return self._call(
            "POST", f"/v1/rides/{_segment(provider_ride_id)}/cancel", "cancel", idempotency_key=idempotency_key
        )

    def ride(self, provider_ride_id: str) -> ProviderRide:
        return self._call("GET", f"/v1/rides/{_segment(provider_ride_id)}", "read")

    def _call(
        self, method: str, path: str, operation: str, *, json: dict | None = None, idempotency_key: str | None = None
    ) -> ProviderRide:
        headers = {"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            # backoff, 2 x backoff, 4 x backoff ... each plus up to one backoff at random, so that clients that
            # failed together do not all come back at the same moment.
            wait=wait_exponential(multiplier=self.backoff) + wait_random(0, self.backoff),
            retry=retry_if_exception_type(_Transient),
            before_sleep=lambda state: _log_retry(operation, state, self.attempts),
            reraise=True,
        )
        try:
            response = retrying(self._attempt, method, self.base_url + path, headers, json)
        except _Transient as failure:
            raise ProviderUnavailable(f"ride provider {operation}: {failure} after {self.attempts} attempts") from None
        if response.status_code in (401, 403):
            # Our key is wrong or revoked: no ride's fault, and every ride would be refused alike. Kept as
            # unavailable, the requests wait (the rides show at risk) until the key is fixed, then go through.
            raise ProviderUnavailable(
                f"ride provider {operation}: our credentials were refused ({response.status_code})"
            )
        if response.status_code >= 400:
            raise _refusal(response)
        return _ride(response, operation)

    def _attempt(self, method: str, url: str, headers: dict, json: dict | None) -> requests.Response:
        try:
            response = self._session.request(method, url, headers=headers, json=json, timeout=self.timeout)
        except requests.Timeout:
            raise _Transient("timed out") from None
        except requests.ConnectionError:
            raise _Transient("connection failed") from None
        if response.status_code in RETRIED_STATUSES:
            response.close()
            raise _Transient(f"answered {response.status_code}")
        return response

    def close(self) -> None:
        self._session.close()


def _log_retry(operation: str, state: RetryCallState, attempts: int) -> None:
    failure = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    log.warning(
        "ride provider %s %s (attempt %d of %d); trying again in %.2f s",
        operation,
        failure,
        state.attempt_number,
        attempts,
        wait,
    )


def _refusal(response: requests.Response) -> ProviderRefused:
    code = "refused"
    try:
        error = response.json().get("error", {})
        if isinstance(error.get("code"), str) and _ERROR_CODE.fullmatch(error["code"]):
            code = error["code"]
    except (ValueError, AttributeError):
        pass
    kind = {404: ProviderRideNotFound, 409: ProviderConflict}.get(response.status_code, ProviderRefused)
    return kind(code, response.status_code)


def _ride(response: requests.Response, operation: str) -> ProviderRide:
    try:
        body = response.json()
        pickup_at = body.get("pickup_at")
        ride = ProviderRide(
            id=body["id"],
            reference=body["reference"],
            status=body["status"],
            pickup_at=datetime.fromisoformat(pickup_at) if pickup_at is not None else None,
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        ride = None
    if ride is None or not all(isinstance(value, str) for value in (ride.id, ride.reference, ride.status)):
        # The provider may have done it: the same call with the same key will tell, so it is worth trying again.
        raise ProviderUnavailable(f"ride provider {operation}: an answer that is not a ride")
    return ride


def _instant(moment: datetime) -> str:
    if moment.utcoffset() is None:
        raise ValueError("the provider needs times with an offset")
    return moment.isoformat()


def _segment(provider_ride_id: str) -> str:
    return quote(provider_ride_id, safe="")
