"""Messages to patients: their wording, their state, and the events their sending causes."""
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Mapping

from shared.contract import NOTIFICATION_FAILED, NOTIFICATION_SENT, Event, new_event

from .contacts import ClinicFacts, Contact

PREPARATION_INSTRUCTIONS = "preparation_instructions"


class MessageStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


@dataclass
class Message:
    id: str
    session_id: str
    patient_id: str
    kind: str
    channel: str
    subject: str
    body: str
    status: MessageStatus
    created_at: datetime
    sent_at: datetime | None = None
    failure_reason: str | None = None

    @property
    def settled(self) -> bool:
        return self.status is not MessageStatus.PENDING

    def mark_sent(self, *, now: datetime) -> list[Event]:
        self.status = MessageStatus.SENT
        self.sent_at = now
        return [self._event(NOTIFICATION_SENT)]

    def mark_failed(self, *, reason: str, now: datetime) -> list[Event]:
        self.status = MessageStatus.FAILED
        self.failure_reason = reason
        return [self._event(NOTIFICATION_FAILED, reason=reason)]

    def _event(self, event_type, **extra) -> Event:
        return new_event(
            event_type,
            {
                "notification_id": self.id,
                "session_id": self.session_id,
                "kind": self.kind,
                "channel": self.channel,
                **extra,
            },
            correlation_id=self.session_id,
        )


def _when(moment: datetime, clinic: ClinicFacts) -> str:
    local = moment.astimezone(clinic.time_zone)
    return f"{local:%A %-d %B %Y} at {local:%H:%M}"


def _clock(moment: datetime, clinic: ClinicFacts) -> str:
    return f"{moment.astimezone(clinic.time_zone):%H:%M}"


def preparation_instructions(
    *, message_id: str, session_booked: Mapping[str, Any], contact: Contact, clinic: ClinicFacts, now: datetime
) -> Message:
    """What a patient needs to know before coming in, in the channel they prefer."""
    starts_at = session_booked["starts_at"]
    ends_at = session_booked["recovery_ends_at"]
    label = clinic.treatment_labels.get(session_booked["treatment_type"], "appointment")
    lines = [
        f"Hello {contact.first_name}, your {label} at {clinic.name} is booked for {_when(starts_at, clinic)}.",
        f"Please arrive by {_clock(starts_at - clinic.arrival_lead, clinic)}.",
    ]
    if session_booked["ride_home_mode"] == "none":
        lines += [
            "Please bring a list of the medications you take and any recent medical records.",
            f"The appointment should be over by {_clock(ends_at, clinic)}.",
        ]
    else:
        stay = round((ends_at - starts_at).total_seconds() / 60)
        lines += [
            "To prepare: eat only a light meal beforehand, wear comfortable clothes, "
            "and bring a list of the medications you take.",
            "During treatment you may feel detached or dream-like; our staff will be with you throughout.",
            f"You will rest in the chair after treatment while we monitor your recovery: plan on about "
            f"{stay} minutes in all, until {_clock(ends_at, clinic)}.",
            "You must not drive after treatment. Your ride home is arranged with your escort: "
            f"please make sure they are ready to collect you at {_clock(ends_at, clinic)}.",
        ]
    channel = contact.preferred_channel if contact.address_for(contact.preferred_channel) else "sms"
    return Message(
        id=message_id,
        session_id=session_booked["session_id"],
        patient_id=session_booked["patient_id"],
        kind=PREPARATION_INSTRUCTIONS,
        channel=channel,
        subject=f"Preparing for your {label} on {_when(starts_at, clinic)}",
        body="\n".join(lines),
        status=MessageStatus.PENDING,
        created_at=now,
    )


def undeliverable(*, message_id: str, session_booked: Mapping[str, Any], kind: str, now: datetime) -> Message:
    """The record of a message that could not even be written, because the patient could not be reached."""
    return Message(
        id=message_id,
        session_id=session_booked["session_id"],
        patient_id=session_booked["patient_id"],
        kind=kind,
        channel="none",
        subject="",
        body="",
        status=MessageStatus.PENDING,
        created_at=now,
    )
