"""Who a message goes to and what it is about, as the scheduler knows them at the moment of sending.

Never logged, never published: these carry names, phones and e-mail addresses.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .outgoing import EMAIL, SMS
from .wording import DEFAULT_LANGUAGE, LANGUAGES


def _first(name: str) -> str:
    return name.split()[0] if name.split() else name


@dataclass(frozen=True)
class Contact:
    patient_id: str
    name: str
    phone: str
    email: str | None
    preferred_channel: str
    language: str = DEFAULT_LANGUAGE
    reminders_opt_out: bool = False

    def __repr__(self) -> str:
        return f"Contact({self.patient_id!r})"

    @property
    def first_name(self) -> str:
        return _first(self.name)

    @property
    def speaks(self) -> str:
        return self.language if self.language in LANGUAGES else DEFAULT_LANGUAGE

    def address_for(self, channel: str) -> str | None:
        return (self.email if channel == EMAIL else self.phone) or None


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

    def __repr__(self) -> str:
        return f"Escort(session={self.session_id!r})"

    @property
    def first_name(self) -> str:
        return _first(self.name)

    def address_for(self, channel: str) -> str | None:
        return self.phone if channel == SMS else None


@dataclass(frozen=True)
class SessionFacts:
    """A session as the scheduler has it now: a message names the current time, or is not sent at all."""

    session_id: str
    patient_id: str
    status: str  # booked, checked_in, in_treatment, discharged, cancelled, no_show
    treatment_type: str
    starts_at: datetime
    treatment_ends_at: datetime
    recovery_ends_at: datetime
    ride_mode: str | None = None  # escort, provider, none
    escort: Escort | None = None
    discharged_at: datetime | None = None

    def __repr__(self) -> str:
        return f"SessionFacts({self.session_id!r}, {self.status!r})"

    @property
    def pickup_at(self) -> datetime:
        return self.discharged_at or self.recovery_ends_at


class ContactUnavailable(Exception):
    """The scheduler does not know this patient; the message can never be sent."""


class SessionUnknown(Exception):
    """The scheduler does not know this session; the message can never be sent."""
