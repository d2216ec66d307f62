"""An API's OpenAPI document, derived from its routes: each view says what it takes and answers (``@operation``),
its path and path parameters come from the URL rule, its fields from the marshmallow schemas (apispec)."""

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec_webframeworks.flask import FlaskPlugin
from flask import Flask
from marshmallow import Schema, fields

from shared.contract.fields import ID_MAX_LENGTH, ID_PATTERN

from .app import MAX_BODY_BYTES

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
# Every error an API answers has this body (shared.web.errors).
ERRORS = "ErrorsOut"
ERROR_RESPONSES = {
    400: ("BadRequest", "The body is not valid JSON."),
    401: ("Unauthorized", "A valid bearer token is required."),
    404: ("NotFound", "No record has this id."),
    413: ("PayloadTooLarge", f"The body is larger than {MAX_BODY_BYTES // 1024} KiB."),
    415: ("UnsupportedMediaType", "Send the body as application/json."),
    422: ("Unprocessable", "Invalid input, field by field; nothing was changed."),
}
BODY_ERRORS = (400, 413, 415, 422)
ID_SCHEMA = {"type": "string", "pattern": f"^{ID_PATTERN}$", "minLength": 1, "maxLength": ID_MAX_LENGTH}
# The schema of each path converter; a path parameter of any other converter is a mistake the build reports.
CONVERTER_SCHEMAS = {"IdConverter": ID_SCHEMA}


class ErrorsOut(Schema):
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(),
        required=True,
        metadata={"description": "Messages by field; `_request`, `_schema` and `_server` for the request as a whole."},
    )


def json_content(schema) -> dict:
    return {"application/json": {"schema": schema}}


def operation(
    summary: str,
    *,
    ok: tuple[int, Any],
    description: str | None = None,
    body: type[Schema] | None = None,
    body_required: bool = True,
    query: type[Schema] | None = None,
    errors: tuple[int, ...] = (),
    headers: tuple[dict, ...] = (),
    ok_headers: dict | None = None,
    responses: dict | None = None,
):
    """Describe the view below: its summary, its success (status and body schema) and the errors it can answer."""
    status, answer = ok
    success = {"description": summary, "content": answer if _is_content(answer) else json_content(answer)}
    if ok_headers:
        success["headers"] = ok_headers
    statuses = {401, *errors, *(BODY_ERRORS if body is not None else ())}
    described = {
        "summary": summary,
        "responses": {
            str(status): success,
            **{str(code): ERROR_RESPONSES[code][0] for code in sorted(statuses) if code in ERROR_RESPONSES},
            **(responses or {}),
        },
    }
    if description:
        described["description"] = description
    parameters = [*headers]
    if query is not None:
        parameters.append({"in": "query", "schema": query})
    if parameters:
        described["parameters"] = parameters
    if body is not None:
        described["requestBody"] = {"required": body_required, "content": json_content(body)}

    def attach(view):
        view.openapi = described
        return view

    return attach


def _is_content(answer) -> bool:
    return isinstance(answer, dict) and all("/" in media_type for media_type in answer)


def build_document(
    app: Flask,
    *,
    title: str,
    description: str,
    schemas: dict[str, type[Schema]] | None = None,
    components: dict | None = None,
) -> dict:
    """The document of every described route of ``app`` under /api; ``schemas`` are registered first, by name, so
    that the nested schemas they name are found rather than registered twice."""
    spec = APISpec(
        title=title,
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[FlaskPlugin(), MarshmallowPlugin()],
        info={"description": description},
        security=[{"bearerAuth": []}],
    )
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    spec.components.schema(ERRORS, schema=ErrorsOut)
    for name, schema in (schemas or {}).items():
        spec.components.schema(name, schema=schema)
    for name, response in (components or {}).items():
        spec.components.response(name, response)
    for name, summary in ERROR_RESPONSES.values():
        spec.components.response(name, {"description": summary, "content": json_content(ERRORS)})
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        view = app.view_functions[rule.endpoint]
        described = getattr(view, "openapi", None)
        if described is None:
            continue
        [method] = [method.lower() for method in rule.methods or () if method.lower() in HTTP_METHODS]
        spec.path(view=view, app=app, operations={method: described}, parameters=_path_parameters(rule))
    return _strict_responses(spec.to_dict())


def _path_parameters(rule) -> list[dict]:
    parameters = []
    for name, converter in rule._converters.items():
        schema = CONVERTER_SCHEMAS.get(type(converter).__name__)
        if schema is None:
            raise LookupError(f"{rule.rule}: no schema for the path converter of {name}")
        parameters.append({"in": "path", "name": name, "required": True, "schema": dict(schema)})
    return parameters


def _strict_responses(document: dict) -> dict:
    """What apispec leaves loose for OpenAPI 3.0: every field of a response is always written (marshmallow dumps
    each declared field), and a nullable nested schema is that schema or null, not any object."""
    for name, schema in document["components"]["schemas"].items():
        if name.endswith("Out"):
            schema["required"] = sorted(schema["properties"])
        for field in schema["properties"].values():
            for choice in field.get("anyOf", ()):
                if choice == {"type": "object", "nullable": True}:
                    choice["enum"] = [None]
    return document
