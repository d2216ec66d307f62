"""Request and response bodies of the scheduler's API; the OpenAPI document is generated from these."""

from datetime import timedelta

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema

from ..domain.checkpoints import CheckpointStatus
from ..domain.patients import EMAIL_NEEDED, NOTHING_TO_CHANGE, ContactChannel, Language
from ..domain.rides import RideStatus
from ..domain.sessions import CancelReason, SessionStatus
from .fields import (
    BoundedText,
    ClinicTime,
    E164Phone,
    Identifier,
    OffsetDateTime,
    PersonName,
    PlainText,
    RideHomeChoice,
    StrictBoolean,
)


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class OutSchema(Schema):
    """A response body; times are written in the clinic's zone, which the caller puts in the context."""

    class Meta:
        unknown = EXCLUDE

    def get_attribute(self, obj, attr, default):
        # Domain values such as slots are named tuples: read their fields as attributes, not by index first.
        if isinstance(obj, tuple):
            return getattr(obj, attr, default)
        return super().get_attribute(obj, attr, default)


# Requests


def email_field(description: str = "Required when preferred_channel is email.", **kwargs) -> fields.Email:
    return fields.Email(
        allow_none=True, validate=validate.Length(max=320), metadata={"description": description}, **kwargs
    )


def language_field(**kwargs) -> fields.Enum:
    return fields.Enum(
        Language,
        by_value=True,
        metadata={"description": "The language of the patient's messages, where the clinic has templates for it."},
        **kwargs,
    )


def reminders_opt_out_field(**kwargs) -> StrictBoolean:
    return StrictBoolean(
        metadata={
            "description": "true: no reminders and no follow-up. Safety messages are sent regardless: the "
            "preparation instructions with the no-driving rule, and everything about the ride home."
        },
        **kwargs,
    )


class PatientIn(StrictSchema):
    name = PersonName(required=True, max_length=200)
    phone = E164Phone(required=True)
    email = email_field(load_default=None)
    preferred_channel = fields.Enum(ContactChannel, by_value=True, load_default=ContactChannel.SMS)
    language = language_field(load_default=Language.EN)
    reminders_opt_out = reminders_opt_out_field(load_default=False)

    @validates_schema
    def _email_channel_needs_email(self, data, **_):
        if data.get("preferred_channel") is ContactChannel.EMAIL and not data.get("email"):
            raise ValidationError(EMAIL_NEEDED, "email")


class PatientChangesIn(StrictSchema):
    """The patient's contact preferences to change; what is not given stays as it is. At least one field."""

    preferred_channel = fields.Enum(ContactChannel, by_value=True)
    language = language_field()
    reminders_opt_out = reminders_opt_out_field()
    email = email_field("null removes it; the patient needs one while their preferred_channel is email.")
    phone = E164Phone()

    @validates_schema
    def _something_to_change(self, data, **_):
        if not data:
            raise ValidationError(NOTHING_TO_CHANGE)


class IntakeIn(StrictSchema):
    completed_at = OffsetDateTime(
        required=True, metadata={"description": "When the assessment was completed: now or earlier, never ahead."}
    )
    recorded_by = PersonName(required=True, max_length=200, metadata={"description": "Who assessed the patient."})


class EscortRideHomeIn(StrictSchema):
    """A relative or friend drives the patient home; they are asked to confirm the pickup time."""

    mode = fields.String(required=True, validate=validate.OneOf(["escort"]))
    escort_name = PersonName(required=True, max_length=200)
    escort_phone = E164Phone(required=True)


class ProviderRideHomeIn(StrictSchema):
    """The clinic books a ride with a health-care ride provider, from the clinic to ``dropoff_address``."""

    mode = fields.String(required=True, validate=validate.OneOf(["provider"]))
    dropoff_address = BoundedText(
        required=True,
        min_length=5,
        max_length=300,
        metadata={"description": "Where the patient is taken, on one line. Kept in the scheduler only."},
    )


RIDE_HOME = {"escort": EscortRideHomeIn, "provider": ProviderRideHomeIn}


def ride_home_field() -> RideHomeChoice:
    return RideHomeChoice(
        RIDE_HOME,
        load_default=None,
        allow_none=True,
        metadata={"description": "How the patient gets home; needed by every treatment followed by recovery."},
    )


class SessionIn(StrictSchema):
    patient_id = Identifier(required=True)
    treatment_type = Identifier(required=True)
    starts_at = OffsetDateTime(required=True)
    chair_id = Identifier(load_default=None, allow_none=True)
    clinician_id = Identifier(load_default=None, allow_none=True)
    ride_home = ride_home_field()


class SeriesIn(StrictSchema):
    patient_id = Identifier(required=True)
    treatment_type = Identifier(required=True)
    first_starts_at = OffsetDateTime(
        required=True, metadata={"description": "The first session; later ones prefer its weekday rhythm and time."}
    )
    count = fields.Integer(required=True, strict=True, validate=validate.Range(min=2, max=12))
    within_days = fields.Integer(required=True, strict=True, validate=validate.Range(min=2, max=60))
    ride_home = ride_home_field()


class RescheduleIn(StrictSchema):
    starts_at = OffsetDateTime(required=True)
    chair_id = Identifier(load_default=None, allow_none=True)
    clinician_id = Identifier(load_default=None, allow_none=True)


class CancelIn(StrictSchema):
    reason = fields.Enum(CancelReason, by_value=True, required=True)
    note = PlainText(
        load_default=None, allow_none=True, max_length=500, metadata={"description": "Kept in the scheduler only."}
    )


class CheckInIn(StrictSchema):
    override_reason = BoundedText(
        load_default=None,
        allow_none=True,
        min_length=3,
        max_length=300,
        metadata={
            "description": "Why the patient is checked in although the ride home is not confirmed (a ride arranged "
            "by phone, say); recorded with the session. Without it, that check-in is refused "
            "(409 `ride_not_confirmed`)."
        },
    )


def gate_override_field(description: str) -> BoundedText:
    return BoundedText(
        load_default=None, allow_none=True, min_length=3, max_length=300, metadata={"description": description}
    )


class StartTreatmentIn(StrictSchema):
    override_reason = gate_override_field(
        "Why treatment starts although a checkpoint before treatment is open; recorded with the session, never sent "
        "anywhere. Without it, that start is refused (409 `checkpoint_open`)."
    )


class DischargeIn(StrictSchema):
    discharged_at = OffsetDateTime(
        load_default=None,
        allow_none=True,
        metadata={"description": "When the clinician released the patient; now if absent."},
    )
    override_reason = gate_override_field(
        "Why the patient is discharged before the minimum monitoring is over or with a checkpoint open; recorded "
        "with the session, never sent anywhere. Without it, that discharge is refused (409 "
        "`monitoring_not_complete` or `checkpoint_open`)."
    )


class WindowQuery(StrictSchema):
    from_ = OffsetDateTime(required=True, data_key="from")
    to = OffsetDateTime(required=True, metadata={"description": "After 'from'."})

    @validates_schema
    def _to_after_from(self, data, **_):
        if data["to"] <= data["from_"]:
            raise ValidationError("Give a 'to' after 'from'.", "to")


class AvailabilityQuery(WindowQuery):
    treatment_type = Identifier(required=True)
    patient_id = Identifier(load_default=None, metadata={"description": "Also apply this patient's rules."})
    chair_id = Identifier(load_default=None)
    clinician_id = Identifier(load_default=None)

    @validates_schema
    def _at_most_two_months(self, data, **_):
        if "from_" in data and "to" in data and data["to"] - data["from_"] > timedelta(days=62):
            raise ValidationError("Ask for at most 62 days at a time.", "to")


# Responses


class ErrorsOut(Schema):
    errors = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True)


class RefusalOut(Schema):
    reason = fields.String(required=True, metadata={"description": "Which rule refused, for programs."})
    message = fields.String(required=True, metadata={"description": "Why, for people."})


class TreatmentTypeOut(OutSchema):
    id = fields.String()
    label = fields.String()
    treatment_minutes = fields.Integer()
    recovery_minutes = fields.Integer()
    turnover_minutes = fields.Integer()
    ride_home_required = fields.Boolean()
    intake_required = fields.Boolean()
    counts_as_intake = fields.Boolean()
    minimum_notice_minutes = fields.Integer()
    booking_horizon_days = fields.Integer()
    minimum_spacing_hours = fields.Integer()


class ClinicianOut(OutSchema):
    id = fields.String()
    name = fields.String()
    working_hours = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class ClinicOut(OutSchema):
    name = fields.String()
    address = fields.String(allow_none=True, metadata={"description": "Where every ride home picks the patient up."})
    time_zone = fields.String()
    slot_minutes = fields.Integer()
    late_cancellation_hours = fields.Integer()
    arrival_minutes_before = fields.Integer()
    chairs = fields.List(fields.String())
    opening_hours = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    closed_on = fields.List(fields.Date())
    clinicians = fields.List(fields.Nested(ClinicianOut))
    treatment_types = fields.List(fields.Nested(TreatmentTypeOut))


class IntakeOut(OutSchema):
    completed_at = ClinicTime()
    recorded_by = fields.String()
    session_id = fields.String(allow_none=True)


class PatientOut(OutSchema):
    id = fields.String()
    name = fields.String(attribute="full_name")
    phone = fields.String()
    email = fields.String(allow_none=True)
    preferred_channel = fields.Enum(ContactChannel, by_value=True)
    language = language_field()
    reminders_opt_out = reminders_opt_out_field()
    intake = fields.Nested(IntakeOut, allow_none=True)


class RideHomeOut(OutSchema):
    mode = fields.String(metadata={"description": "escort, provider, or none when the treatment needs no ride."})
    escort_name = fields.String(allow_none=True)
    escort_phone = fields.String(allow_none=True)
    dropoff_address = fields.String(
        allow_none=True, metadata={"description": "Where a provider ride takes the patient."}
    )


class CheckpointOut(OutSchema):
    id = fields.String()
    label = fields.String()
    due_at = ClinicTime(
        metadata={"description": "Before treatment: the start; before discharge: the end of the minimum monitoring."}
    )
    status = fields.Enum(
        CheckpointStatus,
        by_value=True,
        metadata={
            "description": "pending, due (within 10 minutes of due_at), overdue, done, or skipped (the step it gated "
            "was overridden, or the session ended without it)."
        },
    )
    done_at = ClinicTime(allow_none=True)
    done_by = fields.String(allow_none=True, metadata={"description": "The staff member's username, or service."})


class SessionOut(OutSchema):
    id = fields.String()
    status = fields.Enum(SessionStatus, by_value=True)
    patient_id = fields.String()
    treatment_type = fields.String()
    chair_id = fields.String()
    clinician_id = fields.String(allow_none=True)
    series_id = fields.String(allow_none=True)
    starts_at = ClinicTime()
    treatment_ends_at = ClinicTime()
    recovery_ends_at = ClinicTime(metadata={"description": "Planned discharge: when the ride home is due."})
    chair_free_at = ClinicTime(metadata={"description": "End of the cleaning turnover."})
    ride_home = fields.Nested(RideHomeOut)
    checked_in_at = ClinicTime(allow_none=True)
    treatment_started_at = ClinicTime(allow_none=True)
    discharged_at = ClinicTime(allow_none=True)
    no_show_recorded_at = ClinicTime(allow_none=True)
    cancelled_at = ClinicTime(allow_none=True)
    cancel_reason = fields.Enum(CancelReason, by_value=True, allow_none=True)
    cancel_note = fields.String(allow_none=True)
    late_cancellation = fields.Boolean(allow_none=True)
    ride_status = fields.Enum(
        RideStatus,
        by_value=True,
        allow_none=True,
        metadata={
            "description": "The ride home as transport last reported it; null when no ride is needed or none was "
            "reported yet. Check-in needs `confirmed` (or `dispatched`, `completed`), or an override."
        },
    )
    ride_status_at = ClinicTime(allow_none=True, metadata={"description": "When that ride status was reported."})
    check_in_override_reason = fields.String(
        allow_none=True, metadata={"description": "Why the patient was checked in without a confirmed ride home."}
    )
    booked_starts_at = ClinicTime(
        allow_none=True,
        metadata={
            "description": "The start as booked, once treatment started; `starts_at` and the times after it then "
            "follow the actual start."
        },
    )
    start_override_reason = fields.String(
        allow_none=True, metadata={"description": "Why treatment started with a checkpoint before it open."}
    )
    discharge_override_reason = fields.String(
        allow_none=True,
        metadata={"description": "Why the patient was discharged before monitoring was complete or a checkpoint done."},
    )
    earliest_discharge_at = ClinicTime(
        metadata={"description": "When the treatment's minimum monitoring after the treatment is over."}
    )
    checkpoints = fields.List(
        fields.Nested(CheckpointOut),
        metadata={"description": "The treatment's monitoring checkpoints, each open until a clinician marks it done."},
    )


class SessionListOut(OutSchema):
    sessions = fields.List(fields.Nested(SessionOut))


class SlotOut(OutSchema):
    starts_at = ClinicTime()
    treatment_ends_at = ClinicTime()
    recovery_ends_at = ClinicTime()


class AvailabilityOut(OutSchema):
    treatment_type = fields.String()
    time_zone = fields.String()
    slots = fields.List(fields.Nested(SlotOut))


class SeriesOut(OutSchema):
    id = fields.String()
    sessions = fields.List(fields.Nested(SessionOut))


class UnplacedOut(OutSchema):
    preferred_starts_at = ClinicTime()
    alternatives = fields.List(ClinicTime(), metadata={"description": "The nearest starts after the window."})


class SeriesRefusalOut(RefusalOut, OutSchema):
    placed = fields.List(fields.Nested(SlotOut), load_default=list)
    unplaced = fields.List(fields.Nested(UnplacedOut), load_default=list)
