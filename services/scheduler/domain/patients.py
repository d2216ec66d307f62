"""Patients and how to reach them. Contact details stay in the scheduler; events carry the patient's id only."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .errors import InvalidRequest


class ContactChannel(StrEnum):
    SMS = "sms"
    EMAIL = "email"


class Language(StrEnum):
    """The language the patient's messages are written in, where the clinic has templates for it."""

    EN = "en"
    ES = "es"


EMAIL_NEEDED = "An e-mail address is needed to reach the patient by e-mail."
# What a patient may change about how they are reached, after registration.
CONTACT_PREFERENCES = ("preferred_channel", "language", "reminders_opt_out", "email", "phone")
NOTHING_TO_CHANGE = "Give at least one of: " + ", ".join(CONTACT_PREFERENCES) + "."


def check_reachable(preferred_channel: ContactChannel, email: str | None) -> None:
    """A patient who prefers e-mail has an address to write to."""
    if preferred_channel is ContactChannel.EMAIL and not email:
        raise InvalidRequest({"email": [EMAIL_NEEDED]})


@dataclass
class Patient:
    id: str
    full_name: str
    phone: str
    email: str | None
    preferred_channel: ContactChannel
    created_at: datetime
    language: Language = Language.EN
    # No reminders and no follow-up; safety messages (the no-driving preparation, the ride home) are sent regardless.
    reminders_opt_out: bool = False

    def change_contact(self, changes: Mapping[str, object]) -> None:
        """Change how the patient is reached: some of ``CONTACT_PREFERENCES``, and still reachable afterwards."""
        unknown = sorted(set(changes) - set(CONTACT_PREFERENCES))
        if unknown:
            raise InvalidRequest({name: ["Unknown field."] for name in unknown})
        if not changes:
            raise InvalidRequest({"_schema": [NOTHING_TO_CHANGE]})
        channel = changes.get("preferred_channel", self.preferred_channel)
        email = changes.get("email", self.email)
        if not isinstance(channel, ContactChannel) or not (email is None or isinstance(email, str)):
            raise TypeError("preferred_channel is a ContactChannel, email a string or None")
        check_reachable(channel, email)
        for name, value in changes.items():
            setattr(self, name, value)


@dataclass(frozen=True)
class IntakeAssessment:
    """A completed intake: the discharge of an intake session here, or an assessment staff record from elsewhere."""

    id: str
    patient_id: str
    completed_at: datetime
    recorded_by: str
    recorded_at: datetime
    session_id: str | None = None
