"""Reading request bodies strictly: JSON objects only, validated by a marshmallow schema."""

from flask import request
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import BadRequest, UnsupportedMediaType


def json_body(schema: Schema) -> dict:
    """The validated body, or an error the error handlers turn into a 4xx; nothing is changed before this returns."""
    if not request.is_json:
        raise UnsupportedMediaType("Send the body as JSON with Content-Type: application/json.")
    try:
        document = request.get_json(silent=True)
    except RecursionError as exc:  # valid JSON, nested deeper than the parser goes
        raise BadRequest("The body is nested too deeply.") from exc
    if document is None and request.get_data(cache=True).strip() != b"null":
        raise BadRequest("The body is not valid JSON.")
    if not isinstance(document, dict):
        raise ValidationError({"_schema": ["The body must be a JSON object."]})
    return schema.load(document)


def query_args(schema: Schema) -> dict:
    return schema.load(request.args.to_dict())
