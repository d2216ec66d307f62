"""The API's description for people and programs: ``/api/openapi.json`` and a reference page at ``/api/docs``.

Both are public, like any API's documentation: they describe the routes, not the data behind them. The page is
Swagger UI from the swagger-ui-bundle package, served by the app itself (no CDN), under a Content-Security-Policy
that allows only this origin's scripts.
"""

from html import escape

from flask import Flask, Response, abort, jsonify, send_from_directory
from swagger_ui_bundle import swagger_ui_path

DOCUMENT_PATH = "/api/openapi.json"
DOCS_PATH = "/api/docs"
ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png")
# Swagger UI sets style attributes from script and draws icons as data: URIs; scripts come only from here.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="stylesheet" href="{docs}/swagger-ui.css">
<link rel="icon" type="image/png" href="{docs}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{docs}/swagger-ui-bundle.js"></script>
<script src="{docs}/start.js"></script>
</body>
</html>
"""
# validatorUrl null: the page must not send the document to swagger.io's validator.
START = """window.ui = SwaggerUIBundle({
  url: "DOCUMENT_PATH",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
});
""".replace("DOCUMENT_PATH", DOCUMENT_PATH)


def serve_api_reference(app: Flask, document: dict) -> None:
    page = PAGE.format(title=escape(document["info"]["title"]), docs=DOCS_PATH)

    def guarded(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @app.get(DOCUMENT_PATH, endpoint="openapi")
    def openapi_document():
        return jsonify(document)

    @app.get(DOCS_PATH, endpoint="api_docs")
    def api_docs():
        return guarded(Response(page, mimetype="text/html"))

    @app.get(f"{DOCS_PATH}/start.js", endpoint="api_docs_start")
    def api_docs_start():
        return guarded(Response(START, mimetype="text/javascript"))

    @app.get(f"{DOCS_PATH}/<name>", endpoint="api_docs_asset")
    def api_docs_asset(name: str):
        if name not in ASSETS:
            abort(404)
        return guarded(send_from_directory(swagger_ui_path, name, max_age=3600))
