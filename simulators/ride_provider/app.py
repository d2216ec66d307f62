"""The simulated provider's HTTP API (/v1, as a health-care ride API has it) and its control API (/_simulator)."""

import json
import logging
from datetime import datetime

from flask import Flask, g, jsonify, request

from simulators.http_api import ApiError, install_simulated_api

from .driver_flow import DriverFlow
from .faults import BadFaults, Faults
from .settings import SimulatorSettings
from .state import KeyRecord, Ride, SimulatorState, now
from .webhooks import WebhookSender

log = logging.getLogger(__name__)

MAX_ADDRESS = 500
MAX_REFERENCE = 64
MAX_KEY = 255
MOVABLE = {"will_call", "scheduled"}
DISPATCHABLE = {"will_call", "scheduled"}
CANCELLABLE = {"will_call", "scheduled", "dispatched", "driver_assigned", "driver_arrived"}


def create_app(settings: SimulatorSettings, state: SimulatorState, flow: DriverFlow, webhooks: WebhookSender) -> Flask:
    app = Flask("ride_provider_simulator")
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024

    _acted = install_simulated_api(app, state, secret=settings.api_key)

    @app.post("/v1/rides")
    def book():
        body = _json_object()
        fields = _booking_fields(body)

        def create() -> tuple[Ride, int]:
            if g.faults.refuse:
                _acted()
                raise ApiError(422, "outside_service_area", "the pickup or drop-off is outside the service area")
            ride = Ride(
                id=state.new_ride_id(),
                status="will_call" if fields["will_call"] else "scheduled",
                booked_at=now(),
                **fields,
            )
            state.rides[ride.id] = ride
            if not ride.will_call:
                flow.scheduled(ride.id, ride.pickup_at)
            return ride, 201

        return _idempotent("book", None, body, create)

    @app.get("/v1/rides/<ride_id>")
    def read(ride_id: str):
        with state.lock:
            return jsonify(_ride(ride_id).public())

    @app.patch("/v1/rides/<ride_id>")
    def move(ride_id: str):
        body = _json_object()
        pickup_at = _instant(body.get("pickup_at"), "pickup_at")

        def change() -> tuple[Ride, int]:
            ride = _ride(ride_id)
            _allowed(ride, MOVABLE, "moved")
            ride.pickup_at = pickup_at
            if ride.status == "scheduled":
                flow.scheduled(ride.id, ride.pickup_at)
            return ride, 200

        return _idempotent("move", ride_id, body, change)

    @app.post("/v1/rides/<ride_id>/dispatch")
    def dispatch(ride_id: str):
        def change() -> tuple[Ride, int]:
            ride = _ride(ride_id)
            _allowed(ride, DISPATCHABLE, "dispatched")
            ride.status = "dispatched"
            flow.dispatched(ride.id)
            return ride, 200

        return _idempotent("dispatch", ride_id, None, change)

    @app.post("/v1/rides/<ride_id>/cancel")
    def cancel(ride_id: str):
        def change() -> tuple[Ride, int]:
            ride = _ride(ride_id)
            _allowed(ride, CANCELLABLE, "cancelled")
            ride.status = "cancelled"
            webhooks.emit(ride.public(), "ride.cancelled")
            return ride, 200

        return _idempotent("cancel", ride_id, None, change)

    def _idempotent(operation: str, ride_id: str | None, body: object, action):
        key = request.headers.get("Idempotency-Key", "")
        if not key or len(key) > MAX_KEY:
            raise ApiError(
                400, "idempotency_key_required", f"an Idempotency-Key header of 1 to {MAX_KEY} characters is needed"
            )
        fingerprint = json.dumps([operation, ride_id, body], sort_keys=True)
        with state.lock:
            record = state.keys.get(key)
            if record is not None:
                if record.fingerprint != fingerprint:
                    raise ApiError(422, "idempotency_key_reused", "this Idempotency-Key was used for another request")
                return jsonify(state.rides[record.ride_id].public()), 200
            ride, status = action()
            state.keys[key] = KeyRecord(fingerprint, ride.id)
            ride.keys.append(key)
            shown = ride.public()
        if g.faults.fail_after_commit:
            _acted()
            raise ApiError(503, "simulated_failure", "done, but answered as a failure (fail_after_commit)")
        return jsonify(shown), status

    def _ride(ride_id: str) -> Ride:
        ride = state.rides.get(ride_id)
        if ride is None:
            raise ApiError(404, "ride_not_found", "no ride of that id")
        return ride

    def _allowed(ride: Ride, statuses: set[str], verb: str) -> None:
        if ride.status not in statuses:
            raise ApiError(409, "invalid_status", f"a {ride.status} ride cannot be {verb}")

    @app.get("/healthz")
    def health():
        return jsonify(status="ok")

    @app.get("/_simulator/faults")
    def show_faults():
        return jsonify(state.faults.as_json())

    @app.post("/_simulator/faults")
    def set_faults():
        try:
            faults = Faults.from_json(request.get_json(silent=True))
        except BadFaults as bad:
            raise ApiError(400, "bad_faults", str(bad)) from None
        state.set_faults(faults)
        if not faults.out_of_order_webhooks:
            webhooks.release_held()
        log.info("faults now %s", {name: value for name, value in faults.as_json().items() if value})
        return jsonify(faults.as_json())

    @app.get("/_simulator/rides")
    def list_rides():
        return jsonify(state.rides_report())

    @app.get("/_simulator/webhooks")
    def list_webhooks():
        with state.lock:
            return jsonify(webhooks=json.loads(json.dumps(state.webhooks)))

    @app.post("/_simulator/rides/<ride_id>/cancel")
    def provider_cancels(ride_id: str):
        """The provider's side calls a ride off (no driver, say): only a webhook tells the clinic."""
        with state.lock:
            ride = _ride(ride_id)
            _allowed(ride, CANCELLABLE, "cancelled")
            ride.status = "cancelled"
            shown = ride.public()
        webhooks.emit(shown, "ride.cancelled")
        return jsonify(shown)

    @app.post("/_simulator/reset")
    def reset():
        state.reset()
        return jsonify(status="reset")

    return app


def _json_object() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_request", "the body must be a JSON object")
    return body


def _booking_fields(body: dict) -> dict:
    reference = body.get("reference")
    if not isinstance(reference, str) or not 0 < len(reference) <= MAX_REFERENCE:
        raise ApiError(422, "invalid_request", f"reference: a string of 1 to {MAX_REFERENCE} characters")
    fields = {"reference": reference, "pickup_at": _instant(body.get("pickup_at"), "pickup_at")}
    for name in ("pickup_address", "dropoff_address"):
        value = body.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_ADDRESS:
            raise ApiError(422, "invalid_address", f"{name}: a street address of at most {MAX_ADDRESS} characters")
        fields[name] = value
    will_call = body.get("will_call", True)
    if type(will_call) is not bool:
        raise ApiError(422, "invalid_request", "will_call: true or false")
    fields["will_call"] = will_call
    return fields


def _instant(value: object, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() is None:
        raise ApiError(422, "invalid_request", f"{name}: an ISO 8601 time with an offset")
    return moment
