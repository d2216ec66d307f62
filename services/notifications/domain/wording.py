"""The clinic's wording of each message: templates the clinic edits, one per kind, channel and language, with
variants per treatment type. This module names what a template is given; the Jinja2 files and their loader are an
adapter (``adapters/templates.py``).

Kinds and their recipients:

| kind | to | when |
|---|---|---|
| ``preparation_instructions`` | patient | a session is booked |
| ``reminder`` | patient | ``REMINDERS_BEFORE`` the session (context ``hours_before``) |
| ``session_rescheduled`` | patient | the session moved (``previous_starts_at``) |
| ``session_cancelled`` | patient | the session was cancelled |
| ``ride_confirmation`` | patient | the ride home is confirmed (``ride_mode``, ``escort_first_name``) |
| ``escort_ride_request`` | escort | an escort ride waits for its answer (``link``, ``link_expires_at``) |
| ``escort_patient_ready`` | escort | the patient was discharged |
| ``ride_at_risk`` | front desk | a ride is not confirmed in time (``at_risk``: "24h", "2h", "declined") |
| ``follow_up`` | patient | the day after the discharge |

Every template gets the ``MessageContext`` fields below (None where they do not apply). Instants are aware
datetimes in the clinic's zone; the loader gives filters to write them in the message's language.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

PREPARATION_INSTRUCTIONS = "preparation_instructions"
REMINDER = "reminder"
SESSION_RESCHEDULED = "session_rescheduled"
SESSION_CANCELLED = "session_cancelled"
RIDE_CONFIRMATION = "ride_confirmation"
ESCORT_RIDE_REQUEST = "escort_ride_request"
ESCORT_PATIENT_READY = "escort_patient_ready"
RIDE_AT_RISK = "ride_at_risk"
FOLLOW_UP = "follow_up"
KINDS = (
    PREPARATION_INSTRUCTIONS,
    REMINDER,
    SESSION_RESCHEDULED,
    SESSION_CANCELLED,
    RIDE_CONFIRMATION,
    ESCORT_RIDE_REQUEST,
    ESCORT_PATIENT_READY,
    RIDE_AT_RISK,
    FOLLOW_UP,
)
LANGUAGES = ("en", "es")
DEFAULT_LANGUAGE = "en"


@dataclass(frozen=True)
class MessageContext:
    clinic_name: str
    clinic_address: str | None
    treatment_type: str | None  # e.g. "iv_infusion", "esketamine_nasal_spray"
    treatment_label: str | None  # e.g. "IV ketamine infusion"
    patient_first_name: str | None
    starts_at: datetime | None
    arrive_by: datetime | None
    treatment_minutes: int | None
    recovery_minutes: int | None  # monitoring in the chair after the treatment
    pickup_at: datetime | None  # when the ride home is due (recovery's end, or the discharge)
    previous_starts_at: datetime | None = None
    ride_mode: str | None = None  # "escort", "provider" or None
    escort_first_name: str | None = None
    link: str | None = None
    link_expires_at: datetime | None = None
    hours_before: int | None = None
    at_risk: str | None = None
    session_id: str | None = None  # for the front desk's alert only


@dataclass(frozen=True)
class Rendered:
    subject: str | None  # e-mail only
    body: str


class Templates(Protocol):
    def render(
        self, kind: str, *, channel: str, language: str, treatment_type: str | None, context: MessageContext
    ) -> Rendered:
        """The text for this kind, channel and language, the treatment's variant when there is one; a language
        without that template falls back to ``DEFAULT_LANGUAGE``."""
        ...
