"""Every error an API answers is JSON: ``{"errors": {field: [messages]}}``.

An unexpected failure is answered and logged without its message, which may hold the data it was handling (a
statement's parameters): by its type, its SQLSTATE and its traceback's frames.
"""

import logging

from flask import Flask, jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from shared.persistence.errors import database_unavailable
from shared.redaction import describe, format_traceback

log = logging.getLogger(__name__)

# Long enough for a restarting database or a failover, short enough that a client's retry finds it back.
RETRY_AFTER_SECONDS = 5


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
        if database_unavailable(exc):
            log.warning("%s: the database is unavailable: %s", request.endpoint, describe(exc))
            response = jsonify(error_body("_server", "The database is unavailable; try again shortly."))
            response.status_code = 503
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        # The traceback is part of the message, not exc_info, so that no formatter can add the exception's text.
        log.error("%s failed: %s\n%s", request.endpoint, describe(exc), format_traceback(exc))
        return jsonify(error_body("_server", "Internal error; it has been logged.")), 500
