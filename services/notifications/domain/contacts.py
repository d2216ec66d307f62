"""Who a message goes to, as the scheduler knows them at the moment of sending. Never logged, never published."""

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Contact:
    patient_id: str
    name: str
    phone: str
    email: str | None
    preferred_channel: str

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.split() else self.name

    def address_for(self, channel: str) -> str | None:
        return self.email if channel == "email" else self.phone


@dataclass(frozen=True)
class ClinicFacts:
    """What the wording needs from the clinic's configuration."""

    name: str
    time_zone: ZoneInfo
    treatment_labels: dict[str, str]
    arrival_lead: timedelta  # patients arrive this long before treatment starts, to check in and settle
    address: str | None = None  # where an escort collects the patient, when the clinic's configuration gives it


@dataclass(frozen=True)
class Escort:
    """The person who drives a patient home, as the session names them. Reached by SMS only: a phone is all we have."""

    session_id: str
    patient_id: str
    name: str
    phone: str

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.split() else self.name

    def address_for(self, channel: str) -> str | None:
        return self.phone if channel == "sms" else None


class ContactUnavailable(Exception):
    """The scheduler does not know this patient; the message can never be sent."""


class EscortUnavailable(Exception):
    """The scheduler knows no such session, or the session names no escort to ask; asking again will not change it."""
