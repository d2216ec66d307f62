"""Flask plumbing shared by the services' thin HTTP layers."""

from .app import create_service_app
from .errors import error_body, field_errors, refusal
from .requests import json_body, query_args

__all__ = ["create_service_app", "error_body", "field_errors", "json_body", "query_args", "refusal"]
