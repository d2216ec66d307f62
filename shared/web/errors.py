"""Every error an API answers is JSON: ``{"errors": {field: [messages]}}``; an app with pages answers its pages'
errors with an HTML page of its own instead, saying no more than the status.

An unexpected failure is answered and logged without its message, which may hold the data it was handling (a
statement's parameters): by its type, its SQLSTATE and its traceback's frames.
"""

import logging
from collections.abc import Callable

from flask import Flask, Response, jsonify, make_response, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from shared.persistence.errors import database_unavailable
from shared.redaction import describe, format_traceback

log = logging.getLogger(__name__)

# Long enough for a restarting database or a failover, short enough that a client's retry finds it back.
RETRY_AFTER_SECONDS = 5
PASSED_ON_HEADERS = ("WWW-Authenticate", "Allow", "Retry-After")

# An app's page for an error status, and whether the request at hand is for one of its pages.
PageError = Callable[[int], object]


def refusal(status: int, reason: str, message: str):
    """A request refused by a rule: a machine-readable reason and a sentence for people."""
    return jsonify({"reason": reason, "message": message}), status


def field_errors(errors: dict[str, list[str]], status: int = 422):
    return jsonify({"errors": errors}), status


def error_body(field: str, message: str) -> dict:
    return {"errors": {field: [message]}}


def register_error_handlers(
    app: Flask, *, page_error: PageError | None = None, is_page: Callable[[], bool] = lambda: False
) -> None:
    def answer(status: int, body: dict) -> Response:
        if page_error is not None and is_page():
            return _page(page_error, status)
        response = jsonify(body)
        response.status_code = status
        return response

    @app.errorhandler(ValidationError)
    def _invalid(exc: ValidationError):
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        return answer(422, {"errors": messages})

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        response = answer(exc.code or 500, error_body("_request", exc.description or exc.name))
        for header in PASSED_ON_HEADERS:
            if exc.get_response().headers.get(header):
                response.headers[header] = exc.get_response().headers[header]
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if database_unavailable(exc):
            log.warning("%s: the database is unavailable: %s", request.endpoint, describe(exc))
            response = answer(503, error_body("_server", "The database is unavailable; try again shortly."))
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        # The traceback is part of the message, not exc_info, so that no formatter can add the exception's text.
        log.error("%s failed: %s\n%s", request.endpoint, describe(exc), format_traceback(exc))
        return answer(500, error_body("_server", "Internal error; it has been logged."))


def _page(page_error: PageError, status: int) -> Response:
    try:
        response = make_response(page_error(status))
    except Exception as exc:
        # A page that cannot be drawn (its database gone too) still answers, plainly, rather than raising here.
        log.error("the error page %d failed: %s\n%s", status, describe(exc), format_traceback(exc))
        response = make_response(("Something went wrong.", 500, {"Content-Type": "text/plain; charset=utf-8"}))
    response.status_code = status
    return response
