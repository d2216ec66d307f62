"""The clinic as configured: its time zone, its chairs and the treatments it gives."""
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class TreatmentType:
    id: str
    label: str
    treatment_minutes: int
    recovery_minutes: int
    ride_home_required: bool

    @property
    def treatment(self) -> timedelta:
        return timedelta(minutes=self.treatment_minutes)

    @property
    def recovery(self) -> timedelta:
        return timedelta(minutes=self.recovery_minutes)


@dataclass(frozen=True)
class Clinic:
    name: str
    time_zone: ZoneInfo
    chairs: tuple[str, ...]
    treatment_types: dict[str, TreatmentType]

    def treatment_type(self, type_id: str) -> TreatmentType | None:
        return self.treatment_types.get(type_id)
