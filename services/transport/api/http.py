"""Routes of the transport service's JSON API: translate HTTP to use cases and back, nothing more."""

from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, jsonify

from shared.persistence import utcnow
from shared.web import error_body, field_errors, query_args
from shared.web.openapi import build_document, json_content, operation

from .. import handlers
from ..adapters.escort_tokens import EscortTokens
from ..domain.errors import InvalidRequest, NotFound, Refused
from ..settings import TransportSettings
from .fields import CLINIC_ZONE
from .schemas import EscortLinkOut, RefusalOut, RideOut, RidesOut, RidesQuery

__all__ = ["RidesOut", "RidesQuery", "build_openapi", "create_api"]

REFUSED_RESPONSE = {
    "description": "The ride's state refuses the request; `reason` says why (for example `not_awaiting_escort`).",
    "content": json_content("RefusalOut"),
}
DEFAULTS = TransportSettings()


def create_api(
    *,
    uow_factory: Callable,
    clock: Callable[[], datetime] = utcnow,
    clinic_zone: ZoneInfo = DEFAULTS.clinic_time_zone,
    tokens: EscortTokens | None = None,
    public_url: str = DEFAULTS.public_url,
) -> Blueprint:
    api = Blueprint("transport_api", __name__)
    tokens = tokens or EscortTokens(DEFAULTS.link_secret)

    def dump(schema_class, value) -> dict:
        token = CLINIC_ZONE.set(clinic_zone)
        try:
            return schema_class().dump(value)
        finally:
            CLINIC_ZONE.reset(token)

    @api.errorhandler(InvalidRequest)
    def _invalid(exc: InvalidRequest):
        return field_errors(exc.errors)

    @api.errorhandler(Refused)
    def _refused(exc: Refused):
        return jsonify({"reason": exc.reason, "message": exc.message}), 409

    @api.errorhandler(NotFound)
    def _not_found(exc: NotFound):
        return jsonify(error_body("_request", f"No {exc.what} has this id.")), 404

    @api.get("/rides")
    @operation(
        "Rides home of a session, or of a clinic day",
        description="`session_id` gives the session's rides; `date` (a day in the clinic's time zone) the rides "
        "picked up on it; both, the session's rides of that day; neither, the rides of the clinic's today.",
        ok=(200, RidesOut),
        query=RidesQuery,
        errors=(422,),
    )
    def list_rides():
        query = query_args(RidesQuery())
        if query["date"] is None and query["session_id"] is None:
            query["date"] = clock().astimezone(clinic_zone).date()
        window = _clinic_day(query["date"], clinic_zone) if query["date"] else None
        rides = handlers.list_rides(session_id=query["session_id"], window=window, uow=uow_factory())
        return jsonify(dump(RidesOut, {"rides": rides}))

    @api.get("/rides/<id:ride_id>/escort-link")
    @operation(
        "The link to send the escort",
        description="Only for an escort ride that waits for its escort's answer (409 `not_awaiting_escort` "
        "otherwise). The link carries an opaque signed token and works until the pickup time; a reschedule "
        "replaces it.",
        ok=(200, EscortLinkOut),
        errors=(404,),
        responses={"409": "Refused"},
    )
    def escort_link(ride_id: str):
        ride = handlers.ride_awaiting_escort(ride_id, uow=uow_factory(), now=clock())
        url = f"{public_url}/rides/escort/{tokens.link_token(ride.id, ride.round)}"
        return jsonify(dump(EscortLinkOut, {"url": url, "expires_at": ride.pickup_at}))

    return api


def _clinic_day(day, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start, end


def build_openapi(app: Flask) -> dict:
    return build_document(
        app,
        title="Transport API",
        description="The ride home of every treated patient, requested from the scheduler's events and confirmed by "
        "the escort (a signed link) or a ride provider. Times are written with the clinic's UTC offset. "
        "Every route wants `Authorization: Bearer <SERVICE_TOKEN>`.",
        schemas={"RefusalOut": RefusalOut, "RideOut": RideOut, "RidesOut": RidesOut, "EscortLinkOut": EscortLinkOut},
        components={"Refused": REFUSED_RESPONSE},
    )
