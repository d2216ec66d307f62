"""The simulated gateway's HTTP API (/v1, as SMS gateways have it) and its control API (/_simulator)."""

import json
import logging

from flask import Flask, g, jsonify, request

from simulators.http_api import ApiError, install_simulated_api

from .faults import E164, BadFaults, Faults
from .settings import SimulatorSettings
from .state import SimulatorState, Text, now

log = logging.getLogger(__name__)

MAX_KEY = 255
MAX_BODY = 1600  # ten concatenated segments, as gateways commonly allow


def create_app(settings: SimulatorSettings, state: SimulatorState) -> Flask:
    app = Flask("sms_gateway_simulator")
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024

    _acted = install_simulated_api(app, state, secret=settings.token)

    @app.post("/v1/messages")
    def send():
        key = request.headers.get("Idempotency-Key", "")
        if not key or len(key) > MAX_KEY:
            raise ApiError(
                400, "idempotency_key_required", f"an Idempotency-Key header of 1 to {MAX_KEY} characters is needed"
            )
        to, body = _text_fields()
        fingerprint = json.dumps([to, body])
        with state.lock:
            known = state.by_key.get(key)
            if known is not None:
                text = state.texts[known]
                if text.fingerprint != fingerprint:
                    raise ApiError(409, "idempotency_key_reused", "this Idempotency-Key was used for another text")
                response = jsonify(text.public())
                response.headers["Idempotent-Replayed"] = "true"
                return response, 200
            if not E164.fullmatch(to):
                raise ApiError(422, "invalid_number", "to: a phone number in E.164 form, e.g. +14155550123")
            if to in g.faults.reject_numbers:
                _acted()
                raise ApiError(422, "invalid_number", "this number cannot receive texts")
            text = Text(state.new_text_id(), to, body, key, fingerprint, accepted_at=now())
            state.texts[text.id] = text
            state.by_key[key] = text.id
            shown = text.public()
        log.info("text %s taken (key used %d times)", text.id, state.key_uses[key])
        if g.faults.fail_after_accept:
            _acted()
            raise ApiError(503, "simulated_failure", "taken, but answered as a failure (fail_after_accept)")
        return jsonify(shown), 201

    @app.get("/v1/messages/<text_id>")
    def read(text_id: str):
        with state.lock:
            return jsonify(_text(text_id).public())

    def _text(text_id: str) -> Text:
        text = state.texts.get(text_id)
        if text is None:
            raise ApiError(404, "message_not_found", "no message of that id")
        return text

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
        shown = {**faults.as_json(), "reject_numbers": len(faults.reject_numbers)}  # counted: numbers are private
        log.info("faults now %s", {name: value for name, value in shown.items() if value})
        return jsonify(faults.as_json())

    @app.get("/_simulator/messages")
    def list_messages():
        return jsonify(state.report())

    @app.post("/_simulator/messages/<text_id>/deliver")
    def deliver(text_id: str):
        """The handset reports the text received: from now on the API answers it as delivered."""
        with state.lock:
            text = _text(text_id)
            text.status, text.delivered_at = "delivered", now()
            return jsonify(text.public())

    @app.post("/_simulator/reset")
    def reset():
        state.reset()
        return jsonify(status="reset")

    return app


def _text_fields() -> tuple[str, str]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_request", "the body must be a JSON object")
    to, text = body.get("to"), body.get("body")
    if not isinstance(to, str):
        raise ApiError(422, "invalid_number", "to: a phone number in E.164 form, e.g. +14155550123")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_BODY:
        raise ApiError(422, "invalid_body", f"body: a text of 1 to {MAX_BODY} characters")
    return to, text
