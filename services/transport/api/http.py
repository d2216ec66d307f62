"""Routes of the transport service's JSON API."""
from typing import Callable

from flask import Blueprint, Flask, jsonify
from marshmallow import EXCLUDE, RAISE, Schema, fields

from shared.contract.fields import Identifier
from shared.web import query_args
from shared.web.openapi import build_document, operation

from .. import handlers
from ..domain.rides import RideStatus


class RidesQuery(Schema):
    class Meta:
        unknown = RAISE

    session_id = Identifier(load_default=None, metadata={"description": "Only this session's rides."})


class RideOut(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String()
    session_id = fields.String()
    patient_id = fields.String()
    mode = fields.String()
    pickup_at = fields.DateTime(format="iso", metadata={"description": "When the patient's recovery ends."})
    status = fields.Enum(RideStatus, by_value=True)
    requested_at = fields.DateTime(format="iso")
    cancelled_at = fields.DateTime(format="iso", allow_none=True)
    dispatched_at = fields.DateTime(format="iso", allow_none=True)


class RidesOut(Schema):
    rides = fields.List(fields.Nested(RideOut))


def create_api(*, uow_factory: Callable) -> Blueprint:
    api = Blueprint("transport_api", __name__)

    @api.get("/rides")
    @operation("Rides home", ok=(200, RidesOut), query=RidesQuery, errors=(422,))
    def list_rides():
        query = query_args(RidesQuery())
        rides = handlers.list_rides(session_id=query["session_id"], uow=uow_factory())
        return jsonify(RidesOut().dump({"rides": rides}))

    return api


def build_openapi(app: Flask) -> dict:
    return build_document(
        app,
        title="Transport API",
        description="The ride home of every treated patient, requested from the scheduler's events. "
        "Every route wants `Authorization: Bearer <SERVICE_TOKEN>`.",
        schemas={"RideOut": RideOut, "RidesOut": RidesOut},
    )
