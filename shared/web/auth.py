"""Service-to-service authentication: ``Authorization: Bearer <SERVICE_TOKEN>`` on every /api route."""

import hmac

from flask import Blueprint, jsonify
from flask_httpauth import HTTPTokenAuth

from .errors import error_body


def require_service_token(blueprint: Blueprint, token: str) -> None:
    auth = HTTPTokenAuth(scheme="Bearer")

    @auth.verify_token
    def _verify(candidate: str):
        if candidate and hmac.compare_digest(candidate.encode(), token.encode()):
            return "service"
        return None

    @auth.error_handler
    def _unauthorized(status):
        return jsonify(error_body("_request", "A valid bearer token is required.")), status

    @blueprint.before_request
    @auth.login_required
    def _authenticated():
        return None
