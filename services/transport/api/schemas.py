"""Request and response bodies of transport's API; the OpenAPI document is generated from these."""

from datetime import date

from marshmallow import EXCLUDE, RAISE, Schema, fields, validate

from shared.contract.fields import Identifier

from ..domain.rides import RideStatus
from .fields import ClinicTime


class RidesQuery(Schema):
    class Meta:
        unknown = RAISE

    session_id = Identifier(load_default=None, metadata={"description": "This session's rides."})
    date = fields.Date(
        load_default=None,
        validate=validate.Range(min=date(2000, 1, 1), max=date(2999, 12, 31)),
        metadata={
            "description": "The rides picked up on this clinic day (in the clinic's time zone); without "
            "`session_id` nor `date`, today's.",
            "pattern": r"^2[0-9]{3}-[0-9]{2}-[0-9]{2}$",
        },
    )


class RideOut(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String()
    session_id = fields.String()
    patient_id = fields.String()
    mode = fields.String(metadata={"enum": ["escort", "provider"]})
    status = fields.Enum(RideStatus, by_value=True)
    pickup_at = ClinicTime(metadata={"description": "When the recovery ends, or the patient was released."})
    session_starts_at = ClinicTime(
        allow_none=True, metadata={"description": "What the at-risk thresholds count back from."}
    )
    round = fields.Integer(
        metadata={"description": "Which request for a confirmation this is; a reschedule asks again."}
    )
    requested_at = ClinicTime()
    confirmed_at = ClinicTime(allow_none=True)
    declined_at = ClinicTime(allow_none=True)
    dispatched_at = ClinicTime(allow_none=True)
    completed_at = ClinicTime(allow_none=True)
    cancelled_at = ClinicTime(allow_none=True)
    provider_ride_id = fields.String(
        allow_none=True, metadata={"description": "The ride provider's id (provider mode)."}
    )
    provider_status = fields.String(
        allow_none=True, metadata={"description": "The provider's last word, e.g. driver_assigned, driver_arrived."}
    )


class RidesOut(Schema):
    rides = fields.List(fields.Nested(RideOut))


class EscortLinkOut(Schema):
    url = fields.String(metadata={"description": "The page where the escort confirms or declines the pickup."})
    expires_at = ClinicTime(metadata={"description": "The pickup time: the link works until then."})


class RefusalOut(Schema):
    reason = fields.String()
    message = fields.String()
