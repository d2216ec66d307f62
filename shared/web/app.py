"""What every service's Flask app has in common: JSON errors, a body size limit, health, readiness and metrics.

``/healthz`` (the process lives: always 200), ``/readyz`` (200 ready or 503 not ready, with each check and why) and
``/metrics`` (Prometheus text format) need no token: probes and scrapers call them. They show no patient data.

An app with pages for people (the scheduler's front desk) also hands over how its staff sign in to /api, and its
pages' HTML errors; the API's answers stay what they are.
"""

import logging
import time
from collections.abc import Callable

from flask import Blueprint, Flask, Response, g, jsonify, request
from werkzeug.routing import BaseConverter

from shared import log_context
from shared.contract.fields import ID_PATTERN
from shared.metrics import ServiceMetrics
from shared.redaction import describe

from .auth import SERVICE_CALLER, require_service_token
from .errors import PageError, register_error_handlers
from .health import Readiness

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024


class IdConverter(BaseConverter):
    """``<id:name>``: the id of a record in a path. Anything else is a 404 before any database sees it."""

    regex = ID_PATTERN


def create_service_app(
    import_name: str,
    api: Blueprint,
    *,
    service_token: str,
    health: Callable[[], dict] | None = None,
    service: str | None = None,
    readiness: Callable[[], Readiness] | None = None,
    metrics: ServiceMetrics | None = None,
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

    if service is not None:
        _per_request(app, service, metrics)

    @app.get("/healthz")
    def healthz():
        body = {"status": "ok"} if service is None else {"status": "ok", "service": service}
        try:
            body.update(health() if health is not None else {})
        except Exception as exc:  # the process lives: that is all /healthz says, whatever its details do
            log.warning("healthz: details unavailable (%s)", describe(exc))
        return jsonify(body)

    if readiness is not None:

        @app.get("/readyz")
        def readyz():
            answer = readiness()
            return jsonify(answer.to_dict()), 200 if answer.ready else 503

    if metrics is not None:

        @app.get("/metrics")
        def metrics_page():
            body, content_type = metrics.render()
            return Response(body, content_type=content_type)

    return app


def _per_request(app: Flask, service: str, metrics: ServiceMetrics | None) -> None:
    """Each request's log lines name the service; its latency is observed by route, method and status."""

    handle = app.wsgi_app

    def in_service_context(environ, start_response):
        # Around the whole WSGI call rather than from before_request to teardown: a request that ends without its
        # teardown (a test client keeping its context) would otherwise leave the service set on the thread.
        with log_context.bound(service=service):
            return handle(environ, start_response)

    app.wsgi_app = in_service_context  # type: ignore[method-assign]

    @app.before_request
    def _start_clock():
        g.started = time.perf_counter()

    @app.after_request
    def _observe(response):
        started = g.get("started")
        if metrics is not None and started is not None:
            # The URL rule, never the path: ids in paths would make a label value per record.
            route = request.url_rule.rule if request.url_rule is not None else "unmatched"
            metrics.observe_http(route, request.method, response.status_code, time.perf_counter() - started)
        return response
