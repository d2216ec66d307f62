"""Reading and validating the clinic configuration file (TOML) at start, with clear errors."""

import os
import re
import tomllib
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates, validates_schema

from shared.contract.fields import ID_PATTERN, PlainText

from ..domain.clinic import (
    END_OF_DAY,
    LONGEST_BLOCK,
    WEEKDAYS,
    Checkpoint,
    CheckpointMoment,
    Clinic,
    Clinician,
    TreatmentType,
    WeeklyHours,
)

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "clinic.toml"
INTERVAL = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
# Chair and clinician ids travel in events and requests: the same pattern as every other id, matched whole.
IDENTIFIER = validate.Regexp(
    re.compile(rf"{ID_PATTERN}\Z"),
    error="Use letters, digits, '_' or '-', at most 64, starting with a letter or digit.",
)
LONGEST_BLOCK_MINUTES = int(LONGEST_BLOCK.total_seconds() // 60)


class ClinicConfigError(Exception):
    pass


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class Interval(fields.String):
    """ "08:00-18:00": local opening and closing wall times of one day, opening first."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        match = INTERVAL.match(text)
        if not match:
            raise ValidationError(f"{text!r} is not an interval like '08:00-18:00'.")
        opens_h, opens_m, closes_h, closes_m = (int(part) for part in match.groups())
        if opens_h > 23 or closes_h > 24 or opens_m > 59 or closes_m > 59 or (closes_h == 24 and closes_m):
            raise ValidationError(f"{text!r} has a time of day that does not exist.")
        opens = time(opens_h, opens_m)
        closes = END_OF_DAY if closes_h == 24 else time(closes_h, closes_m)
        if closes <= opens:
            raise ValidationError(f"{text!r} closes before it opens.")
        return opens, closes


class TomlDate(fields.Date):
    """A TOML date (2026-12-25, unquoted), or the same as a string."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        return super()._deserialize(value, attr, data, **kwargs)


class WeeklyHoursSchema(StrictSchema):
    monday = fields.List(Interval(), load_default=list)
    tuesday = fields.List(Interval(), load_default=list)
    wednesday = fields.List(Interval(), load_default=list)
    thursday = fields.List(Interval(), load_default=list)
    friday = fields.List(Interval(), load_default=list)
    saturday = fields.List(Interval(), load_default=list)
    sunday = fields.List(Interval(), load_default=list)

    @validates_schema
    def _no_overlap(self, data, **_):
        for day, intervals in data.items():
            ordered = sorted(intervals)
            if any(later[0] < earlier[1] for earlier, later in zip(ordered, ordered[1:], strict=False)):
                raise ValidationError("Intervals of one day must not overlap.", day)


class ClinicianSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    working_hours = fields.Nested(WeeklyHoursSchema, load_default=None)


class CheckpointSchema(StrictSchema):
    """A monitoring checkpoint: due at a moment of the session (``at``) or ``minutes_after_start``, one of the two."""

    id = fields.String(required=True, validate=IDENTIFIER)
    label = PlainText(required=True, max_length=120)
    at = fields.Enum(CheckpointMoment, by_value=True, load_default=None)
    minutes_after_start = fields.Integer(load_default=None, strict=True, validate=validate.Range(min=0, max=12 * 60))

    @validates_schema
    def _one_due_time(self, data, **_):
        if (data.get("at") is None) == (data.get("minutes_after_start") is None):
            raise ValidationError("Give either 'at' (before_treatment, before_discharge) or 'minutes_after_start'.")


class TreatmentTypeSchema(StrictSchema):
    label = fields.String(required=True, validate=validate.Length(min=1))
    treatment_minutes = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=12 * 60))
    recovery_minutes = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=12 * 60))
    turnover_minutes = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=4 * 60))
    ride_home_required = fields.Boolean(required=True)
    intake_required = fields.Boolean(required=True)
    counts_as_intake = fields.Boolean(load_default=False)
    minimum_notice_minutes = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=0, max=30 * 24 * 60)
    )
    booking_horizon_days = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=731))
    minimum_spacing_hours = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=31 * 24))
    checkpoints = fields.List(fields.Nested(CheckpointSchema), load_default=list)
    minimum_monitoring_minutes = fields.Integer(
        load_default=None, strict=True, validate=validate.Range(min=0, max=12 * 60)
    )
    earliest_start_minutes_before = fields.Integer(
        load_default=None, strict=True, validate=validate.Range(min=0, max=4 * 60)
    )

    @validates_schema
    def _coherent(self, data, **_):
        if data["treatment_minutes"] + data["recovery_minutes"] + data["turnover_minutes"] > LONGEST_BLOCK_MINUTES:
            raise ValidationError("Treatment, recovery and turnover together must fit within a day.")
        if data["recovery_minutes"] and not data["ride_home_required"]:
            raise ValidationError(
                "A treatment followed by recovery (every ketamine or esketamine treatment) needs a ride home.",
                "ride_home_required",
            )
        if data.get("counts_as_intake") and data["intake_required"]:
            raise ValidationError("An intake assessment cannot require an intake first.", "intake_required")
        monitoring = data.get("minimum_monitoring_minutes")
        if monitoring is not None and monitoring > data["recovery_minutes"]:
            raise ValidationError(
                "The minimum monitoring must fit within the recovery booked after the treatment "
                f"({data['recovery_minutes']} minutes): the ride home is planned for its end.",
                "minimum_monitoring_minutes",
            )
        self._checkpoints_fit(data)

    @staticmethod
    def _checkpoints_fit(data) -> None:
        checkpoints = data.get("checkpoints") or []
        ids = [c["id"] for c in checkpoints]
        if len(set(ids)) != len(ids):
            raise ValidationError("Checkpoint ids must be distinct within a treatment.", "checkpoints")
        in_chair = data["treatment_minutes"] + data["recovery_minutes"]
        for index, checkpoint in enumerate(checkpoints):
            minutes = checkpoint.get("minutes_after_start")
            if minutes is not None and minutes > in_chair:
                raise ValidationError(
                    {
                        index: {
                            "minutes_after_start": [
                                f"Due after the patient is meant to leave: treatment and recovery last {in_chair} "
                                "minutes."
                            ]
                        }
                    },
                    "checkpoints",
                )


class ClinicSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1))
    # One line, as a ride provider or an escort's message shows it: the pickup place of every ride home.
    address = PlainText(max_length=300, load_default=None)
    time_zone = fields.String(required=True)
    chairs = fields.List(fields.String(validate=IDENTIFIER), required=True, validate=validate.Length(min=1))
    slot_minutes = fields.Integer(load_default=15, strict=True, validate=validate.OneOf([5, 10, 15, 20, 30, 60]))
    late_cancellation_hours = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=14 * 24))
    arrival_minutes_before = fields.Integer(load_default=15, strict=True, validate=validate.Range(min=0, max=120))
    earliest_start_minutes_before = fields.Integer(
        load_default=30, strict=True, validate=validate.Range(min=0, max=4 * 60)
    )
    opening_hours = fields.Nested(WeeklyHoursSchema, required=True)
    closed_on = fields.List(TomlDate(), load_default=list)
    clinicians = fields.Dict(
        keys=fields.String(validate=IDENTIFIER),
        values=fields.Nested(ClinicianSchema),
        required=True,
        validate=validate.Length(min=1),
    )
    treatment_types = fields.Dict(
        keys=fields.String(validate=validate.Regexp(re.compile(r"[a-z][a-z0-9_]{0,63}\Z"))),
        values=fields.Nested(TreatmentTypeSchema),
        required=True,
        validate=validate.Length(min=1),
    )

    @validates("time_zone")
    def _known_zone(self, value: str, **_):
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError(f"{value!r} is not an IANA time zone name.") from exc

    @validates("chairs")
    def _distinct_chairs(self, value: list[str], **_):
        if len(set(value)) != len(value):
            raise ValidationError("Chair names must be distinct.")

    @validates("opening_hours")
    def _open_some_day(self, value: dict, **_):
        if not any(value.values()):
            raise ValidationError("The clinic must be open on at least one weekday.")


def load_clinic(path: str | Path | None = None) -> Clinic:
    path = Path(path or os.environ.get("CLINIC_CONFIG") or DEFAULT_CONFIG)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ClinicConfigError(f"cannot read the clinic configuration {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ClinicConfigError(f"the clinic configuration {path} is not valid TOML: {exc}") from exc
    try:
        data = ClinicSchema().load(document)
    except ValidationError as exc:
        raise ClinicConfigError(f"the clinic configuration {path} is invalid: {exc.messages}") from exc
    opening_hours = _weekly(data["opening_hours"])
    return Clinic(
        name=data["name"],
        address=data["address"],
        time_zone=ZoneInfo(data["time_zone"]),
        chairs=tuple(data["chairs"]),
        slot_minutes=data["slot_minutes"],
        late_cancellation_hours=data["late_cancellation_hours"],
        arrival_minutes_before=data["arrival_minutes_before"],
        earliest_start_minutes_before=data["earliest_start_minutes_before"],
        opening_hours=opening_hours,
        closed_on=frozenset(data["closed_on"]),
        clinicians=tuple(
            Clinician(
                id=clinician_id,
                name=values["name"],
                working_hours=_weekly(values["working_hours"]) if values["working_hours"] else opening_hours,
            )
            for clinician_id, values in data["clinicians"].items()
        ),
        treatment_types={
            type_id: _treatment_type(type_id, values) for type_id, values in data["treatment_types"].items()
        },
    )


def _treatment_type(type_id: str, values: dict) -> TreatmentType:
    checkpoints = tuple(
        Checkpoint(c["id"], c["label"], moment=c["at"], minutes_after_start=c["minutes_after_start"])
        for c in values["checkpoints"]
    )
    return TreatmentType(id=type_id, **{**values, "checkpoints": checkpoints})


def _weekly(days: dict) -> WeeklyHours:
    return WeeklyHours(tuple(tuple(sorted(days[day])) for day in WEEKDAYS))
