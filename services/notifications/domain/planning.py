"""Which messages an event calls for, and which it makes pointless: the consumer records this plan, nothing more.

Nothing is rendered or sent here. A message is rendered when it is due, from the session as the scheduler has it
then: a booking corrected within the grace period gives one message with the final time.
"""

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .messages import ESCORT, FRONT_DESK, PATIENT, Message, MessageStatus, planned
from .wording import (
    ESCORT_PATIENT_READY,
    ESCORT_RIDE_REQUEST,
    FOLLOW_UP,
    PREPARATION_INSTRUCTIONS,
    REMINDER,
    RIDE_AT_RISK,
    RIDE_CONFIRMATION,
    SESSION_CANCELLED,
    SESSION_RESCHEDULED,
)

REACHED = frozenset({MessageStatus.SENDING, MessageStatus.SENT, MessageStatus.STORED, MessageStatus.DELIVERED})
UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
FOLLOW_UP_AT = time(10, 0)  # clinic time, the day after the discharge


@dataclass(frozen=True)
class Threshold:
    label: str  # "48h"
    before: timedelta


def parse_duration(text: str, *, setting: str) -> timedelta:
    """``"2m"``, ``"48h"``, ``"1d"``, ``"90s"`` or ``"0"``."""
    match = re.fullmatch(r"\s*([0-9]{1,5})\s*([smhd]?)\s*", text)
    if not match or (not match[2] and match[1] != "0"):
        raise ValueError(f"{setting}: {text!r} is not a duration such as 2m, 90s or 0")
    return int(match[1]) * (UNITS.get(match[2]) or timedelta(seconds=1))


def parse_thresholds(text: str, *, setting: str = "REMINDERS_BEFORE") -> tuple[Threshold, ...]:
    """``"48h,3h"`` → thresholds, furthest first; an empty text sends no reminders."""
    thresholds = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        match = re.fullmatch(r"([1-9][0-9]{0,3})([mhd])", part)
        if not match:
            raise ValueError(f"{setting}: {part!r} is not a duration such as 48h, 90m or 2d")
        thresholds.append(Threshold(part, int(match[1]) * UNITS[match[2]]))
    if len({t.before for t in thresholds}) != len(thresholds):
        raise ValueError(f"{setting} names the same duration twice")
    return tuple(sorted(thresholds, key=lambda t: t.before, reverse=True))


@dataclass(frozen=True)
class Policy:
    grace: timedelta = timedelta(minutes=2)
    reminders: tuple[Threshold, ...] = field(default_factory=lambda: parse_thresholds("48h,3h"))
    clinic_zone: ZoneInfo = ZoneInfo("America/New_York")
    front_desk: bool = False  # FRONT_DESK_EMAIL is set


@dataclass
class Plan:
    add: list[Message] = field(default_factory=list)
    cancel: list[tuple[Message, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # codes for the log, never data

    def cancelling(self, messages: Sequence[Message], reason: str) -> None:
        for message in messages:
            if message.status is MessageStatus.SCHEDULED and all(m.id != message.id for m, _ in self.cancel):
                self.cancel.append((message, reason))


@dataclass(frozen=True)
class Occasion:
    """The event as the planning sees it: its type, id, data and when it is handled."""

    type: str
    event_id: str
    data: Mapping[str, Any]
    now: datetime


def plan(
    occasion: Occasion,
    existing: Sequence[Message],
    policy: Policy,
    *,
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> Plan:
    """The messages to add and the scheduled ones to cancel; a key already planned is never planned twice."""
    planner = PLANNERS.get(occasion.type)
    result = Plan() if planner is None else planner(occasion, list(existing), policy, new_id)
    taken = {(m.kind, m.recipient, m.dedupe_key) for m in existing}
    unique: list[Message] = []
    for message in result.add:
        key = (message.kind, message.recipient, message.dedupe_key)
        if key not in taken:
            taken.add(key)
            unique.append(message)
    result.add = unique
    return result


def _message(occasion: Occasion, new_id, kind: str, *, recipient=PATIENT, key="", due: datetime | None = None, **kw):
    data = occasion.data
    return planned(
        message_id=new_id(),
        session_id=data["session_id"],
        patient_id=data.get("patient_id") or "",
        kind=kind,
        recipient=recipient,
        dedupe_key=key,
        due_at=due or occasion.now,
        now=occasion.now,
        **kw,
    )


def _reminders(occasion: Occasion, starts_at: datetime, policy: Policy, new_id, *, not_before: datetime):
    """One per threshold still ahead; a threshold already past, or due before the first message, is skipped."""
    return [
        _message(
            occasion, new_id, REMINDER, key=f"{occasion.event_id}:{t.label}", due=starts_at - t.before, detail=t.label
        )
        for t in policy.reminders
        if starts_at - t.before > not_before
    ]


def _of(existing: list[Message], *kinds: str) -> list[Message]:
    return [m for m in existing if m.kind in kinds]


def _session_booked(occasion: Occasion, existing: list[Message], policy: Policy, new_id) -> Plan:
    first_due = occasion.now + policy.grace
    instructions = _message(occasion, new_id, PREPARATION_INSTRUCTIONS, due=first_due)
    reminders = _reminders(occasion, occasion.data["starts_at"], policy, new_id, not_before=first_due)
    return Plan(add=[instructions, *reminders])


def _session_rescheduled(occasion: Occasion, existing: list[Message], policy: Policy, new_id) -> Plan:
    result = Plan()
    result.cancelling(_of(existing, REMINDER), "rescheduled")
    first_due = occasion.now + policy.grace
    result.add += _reminders(occasion, occasion.data["starts_at"], policy, new_id, not_before=first_due)
    instructions = _of(existing, PREPARATION_INSTRUCTIONS)
    if any(m.status is MessageStatus.SCHEDULED for m in instructions):
        return result  # not sent yet: rendered at send time, they will name the new time
    # A notice not sent yet names a time that is no longer right: the new one replaces it.
    result.cancelling(_of(existing, SESSION_RESCHEDULED), "superseded")
    result.add.append(
        _message(occasion, new_id, SESSION_RESCHEDULED, key=occasion.event_id, due=first_due, detail=_stamp(occasion))
    )
    return result


def _stamp(occasion: Occasion) -> str:
    """The previous start, for the notice's wording: an instant in UTC, no patient data."""
    return occasion.data["previous_starts_at"].astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%MZ")


def _session_cancelled(occasion: Occasion, existing: list[Message], policy: Policy, new_id) -> Plan:
    result = Plan()
    result.cancelling(existing, "session_cancelled")
    # A patient who heard nothing yet (booked and cancelled within the grace period) needs no notice of it.
    heard = any(m.recipient == PATIENT and m.status in REACHED for m in existing)
    if heard:
        result.add.append(_message(occasion, new_id, SESSION_CANCELLED))
    return result


def _session_no_show(occasion: Occasion, existing: list[Message], policy: Policy, new_id) -> Plan:
    result = Plan()
    result.cancelling(existing, "no_show")
    return result


def _session_discharged(occasion: Occasion, existing: list[Message], policy: Policy, new_id) -> Plan:
    result = Plan()
    result.cancelling(_of(existing, PREPARATION_INSTRUCTIONS, REMINDER, SESSION_RESCHEDULED), "discharged")
    day = occasion.data["discharged_at"].astimezone(policy.clinic_zone).date() + timedelta(days=1)
    due = datetime.combine(day, FOLLOW_UP_AT, tzinfo=policy.clinic_zone)
    result.add.append(_message(occasion, new_id, FOLLOW_UP, due=due))
    return result


def _ride_confirmed(occasion: Occasion, existing: list[Message], policy: Policy, new_id) -> Plan:
    return Plan(add=[_message(occasion, new_id, RIDE_CONFIRMATION, key=occasion.event_id, ride_id=_ride(occasion))])


def _ride_at_risk(occasion: Occasion, existing: list[Message], policy: Policy, new_id) -> Plan:
    if not policy.front_desk:
        return Plan(warnings=["front_desk_email_unset"])
    alert = _message(
        occasion,
        new_id,
        RIDE_AT_RISK,
        recipient=FRONT_DESK,
        key=occasion.event_id,
        ride_id=_ride(occasion),
        detail=occasion.data.get("at_risk"),
    )
    return Plan(add=[alert])


def _ride_asks_the_escort(occasion: Occasion, existing: list[Message], policy: Policy, new_id) -> Plan:
    ride = occasion.data
    if ride["mode"] != "escort" or ride["status"] != "requested":
        return Plan()
    result = Plan()
    # The earlier round's link is replaced by this round's: only the newest request is worth sending.
    result.cancelling([m for m in _of(existing, ESCORT_RIDE_REQUEST) if m.recipient == ESCORT], "superseded")
    result.add.append(
        _message(
            occasion, new_id, ESCORT_RIDE_REQUEST, recipient=ESCORT, key=occasion.event_id, ride_id=_ride(occasion)
        )
    )
    return result


def _ride_dispatched(occasion: Occasion, existing: list[Message], policy: Policy, new_id) -> Plan:
    ride = occasion.data
    if ride["mode"] != "escort":
        return Plan()  # a provider's driver is told by the provider
    result = Plan()
    result.cancelling(_of(existing, ESCORT_RIDE_REQUEST), "dispatched")
    result.add.append(
        _message(occasion, new_id, ESCORT_PATIENT_READY, recipient=ESCORT, key=ride["ride_id"], ride_id=_ride(occasion))
    )
    return result


def _ride(occasion: Occasion) -> str:
    return occasion.data["ride_id"]


PLANNERS: dict[str, Callable[[Occasion, list[Message], Policy, Callable[[], str]], Plan]] = {
    "session.booked": _session_booked,
    "session.rescheduled": _session_rescheduled,
    "session.cancelled": _session_cancelled,
    "session.no_show": _session_no_show,
    "session.discharged": _session_discharged,
    "ride.confirmed": _ride_confirmed,
    "ride.at_risk": _ride_at_risk,
    "ride.requested": _ride_asks_the_escort,
    "ride.rescheduled": _ride_asks_the_escort,
    "ride.dispatched": _ride_dispatched,
}
