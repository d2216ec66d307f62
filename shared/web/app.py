"""What every service's Flask app has in common: JSON errors, a body size limit and a health check.

An app with pages for people (the scheduler's front desk) also hands over how its staff sign in to /api, and its
pages' HTML errors; the API's answers stay what they are.
"""

from collections.abc import Callable

from flask import Blueprint, Flask, jsonify
from werkzeug.routing import BaseConverter

from shared.contract.fields import ID_PATTERN

from .auth import SERVICE_CALLER, require_service_token
from .errors import PageError, register_error_handlers

MAX_BODY_BYTES = 64 * 1024


class IdConverter(BaseConverter):
    """``<id:name>``: the id of a record in a path. Anything else is a 404 before any database sees it."""

    regex = ID_PATTERN


def create_service_app(
    import_name: str,
    api: Blueprint,
    *,
    service_token: str,
    health: Callable[[], dict],
    staff: Callable[[], object | None] | None = None,
    service_caller: object = SERVICE_CALLER,
    page_error: PageError | None = None,
    is_page: Callable[[], bool] = lambda: False,
) -> Flask:
    app = Flask(import_name)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]  # DefaultJSONProvider's setting
    app.url_map.converters["id"] = IdConverter
    register_error_handlers(app, page_error=page_error, is_page=is_page)
    require_service_token(api, service_token, staff=staff, service_caller=service_caller)
    app.register_blueprint(api, url_prefix="/api")

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok", **health()})

    return app
