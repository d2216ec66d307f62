"""HTTP field types of notifications' API: times written in the clinic's offset, like the scheduler's."""

from contextvars import ContextVar
from zoneinfo import ZoneInfo

from marshmallow import fields

# The clinic's zone while a response is written; set by the API around each dump (unset: the instant as stored).
CLINIC_ZONE: ContextVar[ZoneInfo | None] = ContextVar("notifications_clinic_zone", default=None)


class ClinicTime(fields.DateTime):
    def __init__(self, **kwargs):
        super().__init__(format="iso", **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        zone = CLINIC_ZONE.get()
        return (value.astimezone(zone) if zone else value).isoformat()
