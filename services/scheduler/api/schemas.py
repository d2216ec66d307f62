"""Request and response bodies of the scheduler's API."""
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from ..domain.patients import ContactChannel
from .fields import E164Phone, OffsetDateTime


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class PatientIn(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    phone = E164Phone(required=True)
    email = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=320))
    preferred_channel = fields.Enum(ContactChannel, by_value=True, load_default=ContactChannel.SMS)

    @validates_schema
    def _email_channel_needs_email(self, data, **_):
        if data.get("preferred_channel") is ContactChannel.EMAIL and not data.get("email"):
            raise ValidationError("An e-mail address is needed to reach the patient by e-mail.", "email")


class RideHomeIn(StrictSchema):
    mode = fields.String(required=True, validate=validate.OneOf(["escort"]))
    escort_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    escort_phone = E164Phone(required=True)


class SessionIn(StrictSchema):
    patient_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    treatment_type = fields.String(required=True, validate=validate.Length(min=1, max=64))
    starts_at = OffsetDateTime(required=True)
    chair_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=64))
    ride_home = fields.Nested(RideHomeIn, load_default=None, allow_none=True)


class CancelIn(StrictSchema):
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))
