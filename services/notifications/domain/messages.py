"""Messages to patients and their escorts: their wording, their state, and the events their sending causes."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.contract import NOTIFICATION_FAILED, NOTIFICATION_SENT, Event, new_event

from .contacts import ClinicFacts, Contact, Escort
from .rides import EscortLink

PREPARATION_INSTRUCTIONS = "preparation_instructions"
ESCORT_RIDE_REQUEST = "escort_ride_request"
ESCORT_PATIENT_READY = "escort_patient_ready"

PATIENT = "patient"
ESCORT = "escort"


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
    recipient: str = PATIENT
    # Which occasion of its kind this message is, for the session: "" for a kind sent once per session, the ride
    # for the escort's call-in, the event that asked for each round of a ride request. Unique with session and kind.
    dedupe_key: str = ""

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


def _hello(escort: Escort) -> str:
    return f"Hello {escort.first_name}," if escort.first_name else "Hello,"


def escort_ride_request(
    *,
    message_id: str,
    ride: Mapping[str, Any],
    escort: Escort,
    link: EscortLink,
    clinic: ClinicFacts,
    dedupe_key: str,
    now: datetime,
) -> Message:
    """An SMS asking the escort to confirm the pickup; short, because it is a text message with a link in it."""
    pickup = _when(ride["pickup_at"], clinic)
    body = (
        f"{_hello(escort)} {clinic.name} here. Can you drive your companion home after their treatment? "
        f"Pickup: {pickup}. Please confirm, or tell us you can't make it: {link.url}"
    )
    return Message(
        id=message_id,
        session_id=ride["session_id"],
        patient_id=escort.patient_id,
        kind=ESCORT_RIDE_REQUEST,
        channel="sms",
        subject=f"Pickup at {clinic.name} on {pickup}",
        body=body,
        status=MessageStatus.PENDING,
        created_at=now,
        recipient=ESCORT,
        dedupe_key=dedupe_key,
    )


def escort_patient_ready(
    *, message_id: str, ride: Mapping[str, Any], escort: Escort, clinic: ClinicFacts, now: datetime
) -> Message:
    """An SMS telling the escort to come now: discharge may be earlier or later than the pickup they confirmed."""
    where = clinic.address or clinic.name
    body = (
        f"{_hello(escort)} the patient you are picking up from {clinic.name} is ready to leave now. "
        f"Please come to {where}."
    )
    return Message(
        id=message_id,
        session_id=ride["session_id"],
        patient_id=escort.patient_id,
        kind=ESCORT_PATIENT_READY,
        channel="sms",
        subject=f"Ready to leave {clinic.name}",
        body=body,
        status=MessageStatus.PENDING,
        created_at=now,
        recipient=ESCORT,
        dedupe_key=ride["ride_id"],
    )


def undeliverable(
    *,
    message_id: str,
    about: Mapping[str, Any],
    kind: str,
    now: datetime,
    recipient: str = PATIENT,
    dedupe_key: str = "",
) -> Message:
    """The record of a message that could not even be written, because its recipient could not be reached."""
    return Message(
        id=message_id,
        session_id=about["session_id"],
        patient_id=about.get("patient_id") or "",
        kind=kind,
        channel="none",
        subject="",
        body="",
        status=MessageStatus.PENDING,
        created_at=now,
        recipient=recipient,
        dedupe_key=dedupe_key,
    )
