"""Authentication of /api: ``Authorization: Bearer <SERVICE_TOKEN>`` from another service, or, where the app has
pages, a signed-in staff member's session.

A request that carries an Authorization header is judged by it alone; only a request without one may be let in by
a staff session. Whoever was let in is the request's caller (``api_caller()``), for the audit.
"""

import hmac
from collections.abc import Callable

from flask import Blueprint, g, jsonify, request
from flask_httpauth import HTTPTokenAuth

from .errors import error_body

SERVICE_CALLER = "service"


def require_service_token(
    blueprint: Blueprint,
    token: str,
    *,
    staff: Callable[[], object | None] | None = None,
    service_caller: object = SERVICE_CALLER,
) -> None:
    """``staff`` gives the signed-in staff member a request comes from, or None; it may refuse the request (a
    missing CSRF token, a role that may not do this) by raising an HTTP error."""
    auth = HTTPTokenAuth(scheme="Bearer")

    @auth.verify_token
    def _verify(candidate: str):
        if candidate and hmac.compare_digest(candidate.encode(), token.encode()):
            return service_caller
        return None

    @auth.error_handler
    def _unauthorized(status):
        return jsonify(error_body("_request", "A valid bearer token is required.")), status

    @auth.login_required
    def _by_token():
        g.api_caller = auth.current_user()

    @blueprint.before_request
    def _authenticated():
        if staff is not None and "Authorization" not in request.headers:
            caller = staff()
            if caller is not None:
                g.api_caller = caller
                return None
        return _by_token()


def api_caller() -> object:
    """Who the /api request at hand comes from: the service token's caller or a staff member."""
    return g.api_caller
