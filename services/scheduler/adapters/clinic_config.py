"""Reading and validating the clinic configuration file (TOML) at start, with clear errors."""
import os
import tomllib
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

from ..domain.clinic import Clinic, TreatmentType

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "clinic.toml"


class ClinicConfigError(Exception):
    pass


class TreatmentTypeSchema(Schema):
    class Meta:
        unknown = RAISE

    label = fields.String(required=True, validate=validate.Length(min=1))
    treatment_minutes = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=24 * 60))
    recovery_minutes = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=24 * 60))
    ride_home_required = fields.Boolean(required=True)


class ClinicSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Length(min=1))
    time_zone = fields.String(required=True)
    chairs = fields.List(fields.String(validate=validate.Length(min=1, max=64)), required=True, validate=validate.Length(min=1))
    treatment_types = fields.Dict(
        keys=fields.String(validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,63}$")),
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
    return Clinic(
        name=data["name"],
        time_zone=ZoneInfo(data["time_zone"]),
        chairs=tuple(data["chairs"]),
        treatment_types={
            type_id: TreatmentType(id=type_id, **values) for type_id, values in data["treatment_types"].items()
        },
    )
