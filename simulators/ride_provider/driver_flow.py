"""The driver's side, moving on by itself: a dispatched ride gets a driver, the driver arrives, the ride completes.

A scheduled (not will-call) ride is dispatched by the provider itself at its pickup time. A step whose ride has
meanwhile changed (cancelled, say) is dropped, so a cancelled ride goes no further.
"""

import heapq
import itertools
import threading
import time
from datetime import datetime

from .state import SimulatorState, now
from .webhooks import WebhookSender

STEPS = {"dispatched": "driver_assigned", "driver_assigned": "driver_arrived", "driver_arrived": "completed"}
DISPATCH = "dispatch"


class DriverFlow:
    def __init__(self, state: SimulatorState, webhooks: WebhookSender, delays: tuple[float, float, float]):
        self._state = state
        self._webhooks = webhooks
        self._delays = dict(zip(STEPS, delays, strict=False))
        self._queue: list[tuple[float, int, str, str]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._stopping = False

    def dispatched(self, ride_id: str) -> None:
        self._push(time.monotonic() + self._delays["dispatched"], ride_id, "dispatched")

    def scheduled(self, ride_id: str, pickup_at: datetime) -> None:
        """A scheduled ride, booked or moved: the provider dispatches it when its pickup time comes."""
        self._push(time.monotonic() + max(0.0, (pickup_at - now()).total_seconds()), ride_id, DISPATCH)

    def _push(self, due: float, ride_id: str, step: str) -> None:
        with self._wake:
            heapq.heappush(self._queue, (due, next(self._order), ride_id, step))
            self._wake.notify_all()

    def run_until_stopped(self) -> None:
        while True:
            with self._wake:
                while not self._stopping and (not self._queue or self._queue[0][0] > time.monotonic()):
                    self._wake.wait(self._queue[0][0] - time.monotonic() if self._queue else None)
                if self._stopping:
                    return
                _, _, ride_id, step = heapq.heappop(self._queue)
            self._take(ride_id, step)

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()

    def _take(self, ride_id: str, step: str) -> None:
        with self._state.lock:
            ride = self._state.rides.get(ride_id)
            if ride is None:
                return
            if step == DISPATCH:
                if ride.status != "scheduled":
                    return
                if ride.pickup_at > now():  # moved later since: an entry for the new time is queued
                    return
                ride.status = "dispatched"
                self.dispatched(ride_id)
                return
            if ride.status != step:
                return
            ride.status = STEPS[step]
            shown = ride.public()
            if ride.status in STEPS:
                self._push(time.monotonic() + self._delays[ride.status], ride_id, ride.status)
        self._webhooks.emit(shown, f"ride.{shown['status']}")
