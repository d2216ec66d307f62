"""Routes of the transport service's JSON API."""
from typing import Callable

from flask import Blueprint, jsonify
from marshmallow import RAISE, Schema

from shared.contract.fields import Identifier
from shared.web import query_args

from .. import handlers
from ..domain.rides import Ride


class RidesQuery(Schema):
    class Meta:
        unknown = RAISE

    session_id = Identifier(load_default=None)


def create_api(*, uow_factory: Callable) -> Blueprint:
    api = Blueprint("transport_api", __name__)

    @api.get("/rides")
    def list_rides():
        query = query_args(RidesQuery())
        rides = handlers.list_rides(session_id=query["session_id"], uow=uow_factory())
        return jsonify({"rides": [_ride_json(ride) for ride in rides]})

    return api


def _ride_json(ride: Ride) -> dict:
    return {
        "id": ride.id,
        "session_id": ride.session_id,
        "patient_id": ride.patient_id,
        "mode": ride.mode,
        "pickup_at": ride.pickup_at.isoformat(),
        "status": ride.status.value,
        "requested_at": ride.requested_at.isoformat(),
        "cancelled_at": ride.cancelled_at.isoformat() if ride.cancelled_at else None,
        "dispatched_at": ride.dispatched_at.isoformat() if ride.dispatched_at else None,
    }
