"""What every simulator's /v1 API does alike: JSON errors, the bearer key, the faults a test set (a status to answer,
a delay), and counting each idempotency key's uses. The state given must have ``lock``, ``key_uses``, ``faults``
(with ``status`` and ``delay_seconds``) and ``fault_acted()``, which spends one of a fault's ``times``."""

import hmac
import time
from collections.abc import Callable

from flask import Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def install_simulated_api(app: Flask, state, *, secret: str) -> Callable[[], None]:
    """Wire the common behaviour into ``app``; returns ``acted()``, which a route calls when a fault shaped its
    answer (counted once per request)."""

    def acted() -> None:
        if not g.fault_acted:
            g.fault_acted = True
            state.fault_acted()

    @app.errorhandler(ApiError)
    def api_error(error: ApiError):
        return jsonify(error={"code": error.code, "message": error.message}), error.status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        code = (error.name or "error").lower().replace(" ", "_")
        return jsonify(error={"code": code, "message": error.description}), error.code

    @app.before_request
    def faults_and_auth():
        if not request.path.startswith("/v1/"):
            return
        key = request.headers.get("Idempotency-Key")
        if key:
            with state.lock:
                state.key_uses[key] += 1
        g.faults = state.faults
        g.fault_acted = False
        if g.faults.status is not None:
            acted()
            raise ApiError(g.faults.status, "simulated_failure", "the simulator was told to fail this call")
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), secret.encode()):
            raise ApiError(401, "unauthorized", "a valid bearer key is needed")

    @app.after_request
    def slow_answer(response):
        faults = g.get("faults")
        if faults is not None and faults.delay_seconds > 0:
            acted()
            # The work is done before the wait, as with a service that commits and then answers slowly.
            time.sleep(faults.delay_seconds)
        return response

    return acted
