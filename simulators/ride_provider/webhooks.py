"""Pushing ride status changes to the configured webhook URL, signed, retried with backoff when not answered 2xx.

The faults can send each webhook twice (same id) or send a ride's later webhook before its earlier one: the two
things a real provider does that a receiver must survive.
"""

import heapq
import itertools
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field

import requests

from services.transport.adapters.webhook_signatures import sign

from .state import SimulatorState, now

log = logging.getLogger(__name__)

TERMINAL_TYPES = frozenset({"ride.completed", "ride.cancelled"})


@dataclass
class Delivery:
    webhook_id: str
    type: str
    body: bytes
    record: dict
    attempt: int = 0
    sent: bool = field(default=False)


class WebhookSender:
    def __init__(self, state: SimulatorState, url: str, secret: str, retry_delays: tuple[float, ...]):
        self._state = state
        self._url = url
        self._secret = secret
        self._retry_delays = retry_delays
        self._queue: list[tuple[float, int, Delivery]] = []
        self._order = itertools.count()
        self._held: dict[str, list[Delivery]] = {}  # out-of-order mode: a ride's webhook waiting for the next one
        self._wake = threading.Condition()
        self._stopping = False
        self._http = requests.Session()

    def emit(self, ride: dict, type_: str) -> None:
        """Announce a ride's new status (`ride` as the API shows it)."""
        webhook_id = f"wh_{secrets.token_hex(12)}"
        occurred_at = now().isoformat()
        body = json.dumps(
            {
                "id": webhook_id,
                "type": type_,
                "occurred_at": occurred_at,
                "ride": {"id": ride["id"], "reference": ride["reference"], "status": ride["status"]},
            }
        ).encode()
        record = {
            "id": webhook_id,
            "type": type_,
            "ride_id": ride["id"],
            "reference": ride["reference"],
            "status": ride["status"],
            "occurred_at": occurred_at,
        }
        faults = self._state.faults
        copies = 2 if faults.duplicate_webhooks else 1
        deliveries = [Delivery(webhook_id, type_, body, {**record, "copy": n + 1}) for n in range(copies)]
        with self._wake:
            held = self._held.pop(ride["id"], [])
            if faults.out_of_order_webhooks and not held and type_ not in TERMINAL_TYPES:
                self._held[ride["id"]] = deliveries
            elif faults.out_of_order_webhooks:
                self._queue_all(deliveries + held)
            else:
                self._queue_all(held + deliveries)

    def release_held(self) -> None:
        """Out-of-order mode switched off: what was held back goes out now."""
        with self._wake:
            held, self._held = self._held, {}
            self._queue_all([delivery for deliveries in held.values() for delivery in deliveries])

    def _queue_all(self, deliveries: list[Delivery]) -> None:
        due = time.monotonic()
        for delivery in deliveries:
            heapq.heappush(self._queue, (due, next(self._order), delivery))
        self._wake.notify_all()

    def run_until_stopped(self) -> None:
        while True:
            with self._wake:
                while not self._stopping and (not self._queue or self._queue[0][0] > time.monotonic()):
                    self._wake.wait(self._queue[0][0] - time.monotonic() if self._queue else None)
                if self._stopping:
                    return
                _, _, delivery = heapq.heappop(self._queue)
            self._deliver(delivery)

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        self._http.close()

    def _deliver(self, delivery: Delivery) -> None:
        if not delivery.sent:
            delivery.sent = True
            delivery.record["attempts"] = []
            delivery.record["delivered"] = False
            with self._state.lock:
                self._state.webhooks.append(delivery.record)
        delivery.attempt += 1
        outcome = self._post(delivery)
        with self._state.lock:
            delivery.record["attempts"].append({"at": now().isoformat(), "outcome": outcome})
            delivery.record["delivered"] = outcome.startswith("2")
        if delivery.record["delivered"]:
            return
        if delivery.attempt > len(self._retry_delays):
            log.warning(
                "webhook %s (%s) given up after %d attempts", delivery.webhook_id, delivery.type, delivery.attempt
            )
            return
        delay = self._retry_delays[delivery.attempt - 1]
        log.info("webhook %s (%s): %s; trying again in %.1f s", delivery.webhook_id, delivery.type, outcome, delay)
        with self._wake:
            heapq.heappush(self._queue, (time.monotonic() + delay, next(self._order), delivery))
            self._wake.notify_all()

    def _post(self, delivery: Delivery) -> str:
        if not self._url:
            return "no webhook url"
        headers = sign(delivery.body, self._secret, webhook_id=delivery.webhook_id, timestamp=int(time.time()))
        headers["Content-Type"] = "application/json"
        try:
            response = self._http.post(self._url, data=delivery.body, headers=headers, timeout=(2, 5))
        except requests.RequestException as failure:
            return type(failure).__name__
        response.close()
        return str(response.status_code)
