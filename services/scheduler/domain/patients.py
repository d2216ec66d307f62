"""Patients and how to reach them. Contact details stay in the scheduler; events carry the patient's id only."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ContactChannel(StrEnum):
    SMS = "sms"
    EMAIL = "email"


@dataclass
class Patient:
    id: str
    full_name: str
    phone: str
    email: str | None
    preferred_channel: ContactChannel
    created_at: datetime


@dataclass(frozen=True)
class IntakeAssessment:
    """A completed intake: the discharge of an intake session here, or an assessment staff record from elsewhere."""

    id: str
    patient_id: str
    completed_at: datetime
    recorded_by: str
    recorded_at: datetime
    session_id: str | None = None
