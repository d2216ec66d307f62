"""What every service's Flask app has in common: JSON errors, a body size limit and a health check."""

from collections.abc import Callable

from flask import Blueprint, Flask, jsonify
from werkzeug.routing import BaseConverter

from shared.contract.fields import ID_PATTERN

from .auth import require_service_token
from .errors import register_error_handlers

MAX_BODY_BYTES = 64 * 1024


class IdConverter(BaseConverter):
    """``<id:name>``: the id of a record in a path. Anything else is a 404 before any database sees it."""

    regex = ID_PATTERN


def create_service_app(import_name: str, api: Blueprint, *, service_token: str, health: Callable[[], dict]) -> Flask:
    app = Flask(import_name)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]  # DefaultJSONProvider's setting
    app.url_map.converters["id"] = IdConverter
    register_error_handlers(app)
    require_service_token(api, service_token)
    app.register_blueprint(api, url_prefix="/api")

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok", **health()})

    return app
