"""Every error an API answers is JSON: ``{"errors": {field: [messages]}}``."""
import logging

from flask import Flask, jsonify
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


def refusal(status: int, reason: str, message: str):
    """A request refused by a rule: a machine-readable reason and a sentence for people."""
    return jsonify({"reason": reason, "message": message}), status


def field_errors(errors: dict[str, list[str]], status: int = 422):
    return jsonify({"errors": errors}), status


def error_body(field: str, message: str) -> dict:
    return {"errors": {field: [message]}}


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ValidationError)
    def _invalid(exc: ValidationError):
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        return field_errors(messages)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        response = jsonify(error_body("_request", exc.description or exc.name))
        response.status_code = exc.code or 500
        for header in ("WWW-Authenticate", "Allow"):
            if exc.get_response().headers.get(header):
                response.headers[header] = exc.get_response().headers[header]
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return jsonify(error_body("_server", "Internal error; it has been logged.")), 500
