"""What a template is given: the message's facts as they are at send time, in the clinic's zone."""

from datetime import UTC, datetime

from .contacts import ClinicFacts, Contact, SessionFacts
from .messages import ESCORT, FRONT_DESK, Message
from .rides import EscortLink
from .wording import MessageContext


def _minutes(start: datetime, end: datetime) -> int:
    return round((end - start).total_seconds() / 60)


def _hours(label: str | None) -> int | None:
    """``"48h"`` → 48, ``"2d"`` → 48, ``"90m"`` → 1 (as a patient reads it)."""
    if not label or not label[:-1].isdigit():
        return None
    amount, unit = int(label[:-1]), label[-1]
    return {"h": amount, "d": amount * 24, "m": max(1, round(amount / 60))}.get(unit)


def _previous(stamp: str | None) -> datetime | None:
    try:
        return datetime.strptime(stamp, "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC) if stamp else None
    except ValueError:
        return None


def context_for(
    message: Message,
    *,
    session: SessionFacts,
    contact: Contact | None,
    clinic: ClinicFacts,
    link: EscortLink | None = None,
) -> MessageContext:
    zone = clinic.time_zone

    def local(moment: datetime | None) -> datetime | None:
        return moment.astimezone(zone) if moment is not None else None

    escort = session.escort
    return MessageContext(
        clinic_name=clinic.name,
        clinic_address=clinic.address,
        treatment_type=session.treatment_type,
        treatment_label=clinic.treatment_labels.get(session.treatment_type),
        # The escort and the front desk learn the patient's first name at most; the front desk by session id.
        patient_first_name=contact.first_name if contact is not None and message.recipient != FRONT_DESK else None,
        starts_at=local(session.starts_at),
        arrive_by=local(session.starts_at - clinic.arrival_lead),
        treatment_minutes=_minutes(session.starts_at, session.treatment_ends_at),
        recovery_minutes=_minutes(session.treatment_ends_at, session.recovery_ends_at),
        pickup_at=local(session.pickup_at),
        previous_starts_at=local(_previous(message.detail)),
        ride_mode=session.ride_mode if session.ride_mode in ("escort", "provider") else None,
        escort_first_name=escort.first_name if escort is not None and message.recipient != ESCORT else None,
        link=link.url if link is not None else None,
        link_expires_at=local(link.expires_at) if link is not None else None,
        hours_before=_hours(message.detail) if message.kind == "reminder" else None,
        at_risk=message.detail if message.kind == "ride_at_risk" else None,
        session_id=session.session_id if message.recipient == FRONT_DESK else None,
    )
