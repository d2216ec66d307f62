"""SMS through an HTTP gateway: the ``sms`` channel.

``POST {SMS_GATEWAY_URL}/v1/messages`` with ``{"to", "body"}``, a bearer token and ``Idempotency-Key: <message
id>``. The key is what makes a text arrive once: an attempt whose answer was lost (a timeout, a 5xx after the gateway
had taken it, a crash before our record) is sent again with the same key, and the gateway answers with the message
it already has instead of texting the patient twice.

Timeouts, connection errors, 408, 429 and 5xx are tried again here, with exponential backoff and jitter; when they
go on, the failure is temporary and the message waits. 400 and 422 are the gateway refusing this number or text:
permanent, so the other channel is tried. 401 and 403 refuse our token: a configuration error that no other patient
would escape either, so temporary. Nothing logged or raised here holds the number or the text.
"""

import logging
import re

import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from ..domain.outgoing import SMS, DeliveryFailed, Outgoing, Receipt, ReceiptStatus

log = logging.getLogger(__name__)

RETRIED_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
PERMANENT_STATUSES = frozenset({400, 422})
CREDENTIAL_STATUSES = frozenset({401, 403})
_ERROR_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_GATEWAY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
# Phones are kept as people write them (E.164 with single spaces or hyphens); a gateway wants the bare digits.
_SEPARATORS = re.compile(r"(?<=\d)[ -](?=\d)")


class _Transient(Exception):
    """One attempt that may succeed if made again (the text holds no patient data)."""


class SmsGatewayChannel:
    name = SMS

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float | tuple[float, float] = (3.05, 10),
        attempts: int = 3,
        backoff: float = 0.5,
        session: requests.Session | None = None,
    ):
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self._token = token
        self._session = session or requests.Session()

    def send(self, outgoing: Outgoing) -> Receipt:
        headers = {
            "Authorization": f"Bearer {self._token}",
            "Idempotency-Key": outgoing.message_id,
            "Accept": "application/json",
        }
        body = {"to": _SEPARATORS.sub("", outgoing.to.strip()), "body": outgoing.body}
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            # backoff, 2 x backoff, 4 x backoff ... each plus up to one backoff at random, so that messages that
            # failed together do not all come back at the same moment.
            wait=wait_exponential(multiplier=self.backoff) + wait_random(0, self.backoff),
            retry=retry_if_exception_type(_Transient),
            before_sleep=lambda state: self._log_retry(outgoing.message_id, state),
            reraise=True,
        )
        try:
            response = retrying(self._attempt, headers, body)
        except _Transient as failure:
            raise DeliveryFailed(f"sms gateway {failure} after {self.attempts} attempts", permanent=False) from None
        with response:
            return self._receipt(outgoing, response)

    def _attempt(self, headers: dict[str, str], body: dict[str, str]) -> requests.Response:
        try:
            response = self._session.post(f"{self.url}/v1/messages", json=body, headers=headers, timeout=self.timeout)
        except requests.Timeout:
            raise _Transient("timed out") from None
        except requests.ConnectionError:
            raise _Transient("unreachable") from None
        if response.status_code in RETRIED_STATUSES:
            response.close()
            raise _Transient(f"answered {response.status_code}")
        return response

    def _receipt(self, outgoing: Outgoing, response: requests.Response) -> Receipt:
        status = response.status_code
        if status in CREDENTIAL_STATUSES:
            raise DeliveryFailed(f"sms gateway refused our token ({status})", permanent=False)
        if status in PERMANENT_STATUSES:
            raise DeliveryFailed(f"sms gateway refused the message ({status}, {_error_code(response)})", permanent=True)
        if not 200 <= status < 300:
            raise DeliveryFailed(f"sms gateway answered {status} ({_error_code(response)})", permanent=False)
        try:
            answer = response.json()
            gateway_id, gateway_status = answer["id"], answer.get("status")
        except (ValueError, TypeError, KeyError, AttributeError):
            gateway_id = gateway_status = None
        if not isinstance(gateway_id, str) or not _GATEWAY_ID.fullmatch(gateway_id):
            # The gateway may have taken it: the same key next time will tell, without a second text.
            raise DeliveryFailed("sms gateway gave an answer without a message id", permanent=False)
        delivered = gateway_status == "delivered"
        log.info(
            "message %s taken by the sms gateway as %s%s",
            outgoing.message_id,
            gateway_id,
            " (delivered)" if delivered else "",
        )
        return Receipt(ReceiptStatus.DELIVERED if delivered else ReceiptStatus.SENT, gateway_id=gateway_id)

    def _log_retry(self, message_id: str, state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "message %s: sms gateway %s (attempt %d of %d); trying again in %.2f s",
            message_id,
            failure,
            state.attempt_number,
            self.attempts,
            wait,
        )

    def close(self) -> None:
        self._session.close()


def _error_code(response: requests.Response) -> str:
    """The gateway's error code, if it is a plain code: its message may quote the number."""
    try:
        code = response.json().get("error", {}).get("code")
    except (ValueError, AttributeError):
        return "no error code"
    return code if isinstance(code, str) and _ERROR_CODE.fullmatch(code) else "no error code"
