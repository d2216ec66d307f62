"""What to do with a due message, judged at send time on the session and the person as they are now.

Still wanted (the session may have been cancelled since), welcome (opt-out, quiet hours), and by which channel: the
patient's preferred one when it has an address, the other otherwise; escorts by SMS; the front desk by e-mail.
"""

import random
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from .contacts import Contact, SessionFacts
from .messages import ESCORT, FRONT_DESK, OPTIONAL_KINDS, RIDE_HOME_KINDS, Message
from .outgoing import EMAIL, SMS
from .wording import (
    DEFAULT_LANGUAGE,
    ESCORT_PATIENT_READY,
    FOLLOW_UP,
    PREPARATION_INSTRUCTIONS,
    REMINDER,
    SESSION_CANCELLED,
    SESSION_RESCHEDULED,
)

BEFORE_THE_SESSION = frozenset({"booked"})
RIDE_STILL_NEEDED = frozenset({"booked", "checked_in", "in_treatment", "discharged"})
# Which session statuses a kind still makes sense in; the rest (the ride kinds) while the ride home is still needed.
WANTED_WHILE: dict[str, frozenset[str]] = {
    PREPARATION_INSTRUCTIONS: BEFORE_THE_SESSION,
    REMINDER: BEFORE_THE_SESSION,
    SESSION_RESCHEDULED: BEFORE_THE_SESSION,
    SESSION_CANCELLED: frozenset({"cancelled"}),
    FOLLOW_UP: frozenset({"discharged"}),
    ESCORT_PATIENT_READY: RIDE_STILL_NEEDED,
}
RIDE_SOON = timedelta(hours=3)
MAX_ATTEMPTS = 6
FIRST_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(minutes=30)
MAX_WAIT = timedelta(seconds=60)


@dataclass(frozen=True)
class QuietHours:
    """A nightly window in the clinic's zone, e.g. 21:00-08:00, in which no text is sent."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> "QuietHours | None":
        """``"21:00-08:00"``; ``"off"`` (or empty) for none."""
        if text.strip().lower() in ("", "off", "none"):
            return None
        match = re.fullmatch(r"\s*([0-2][0-9]):([0-5][0-9])\s*-\s*([0-2][0-9]):([0-5][0-9])\s*", text)
        if not match or int(match[1]) > 23 or int(match[3]) > 23:
            raise ValueError(f"QUIET_HOURS: {text!r} is not a window such as 21:00-08:00 (or off)")
        start, end = time(int(match[1]), int(match[2])), time(int(match[3]), int(match[4]))
        if start == end:
            raise ValueError("QUIET_HOURS: the window starts and ends at the same time")
        return cls(start, end)

    def holds(self, moment: datetime, zone: ZoneInfo) -> bool:
        local = moment.astimezone(zone).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def over_at(self, moment: datetime, zone: ZoneInfo) -> datetime:
        """When the window that holds ``moment`` ends, in wall time (right across a daylight-saving change)."""
        local = moment.astimezone(zone)
        day = local.date() if local.time() < self.end else local.date() + timedelta(days=1)
        return datetime.combine(day, self.end, tzinfo=zone)


@dataclass(frozen=True)
class Respect:
    clinic_zone: ZoneInfo
    quiet_hours: QuietHours | None = QuietHours(time(21, 0), time(8, 0))
    front_desk_email: str | None = None


@dataclass(frozen=True)
class Route:
    channel: str
    to: str


@dataclass(frozen=True)
class Send:
    route: Route
    fallback: Route | None  # the other channel, tried once if this one refuses for good
    language: str


@dataclass(frozen=True)
class Cancel:
    reason: str


@dataclass(frozen=True)
class Wait:
    until: datetime
    reason: str


@dataclass(frozen=True)
class Fail:
    reason: str


Decision = Send | Cancel | Wait | Fail


def decide(
    message: Message, *, session: SessionFacts, contact: Contact | None, respect: Respect, now: datetime
) -> Decision:
    if session.status not in WANTED_WHILE.get(message.kind, RIDE_STILL_NEEDED):
        return Cancel(f"session_{session.status}")
    if message.kind in OPTIONAL_KINDS and contact is not None and contact.reminders_opt_out:
        return Cancel("opted_out")
    routes = _routes(message, session, contact, respect)
    if isinstance(routes, Cancel | Fail):
        return routes
    first, fallback = routes
    if first.channel == SMS and respect.quiet_hours and respect.quiet_hours.holds(now, respect.clinic_zone):
        if not (message.kind in RIDE_HOME_KINDS and session.pickup_at - now <= RIDE_SOON):
            return Wait(respect.quiet_hours.over_at(now, respect.clinic_zone), "quiet_hours")
    language = DEFAULT_LANGUAGE if message.recipient == FRONT_DESK or contact is None else contact.speaks
    return Send(first, fallback, language)


def _routes(message, session, contact, respect) -> tuple[Route, Route | None] | Cancel | Fail:
    if message.recipient == FRONT_DESK:
        if not respect.front_desk_email:
            return Cancel("front_desk_email_unset")
        return Route(EMAIL, respect.front_desk_email), None
    if message.recipient == ESCORT:
        if session.escort is None:
            return Cancel("no_escort")
        return Route(SMS, session.escort.phone), None
    if contact is None:
        return Fail("unknown_patient")
    if message.fell_back and message.channel:
        # The other channel refused this message for good: it stays on the one that took over.
        address = contact.address_for(message.channel)
        return (Route(message.channel, address), None) if address else Fail("no_address")
    preferred = contact.preferred_channel if contact.preferred_channel in (SMS, EMAIL) else SMS
    order = [preferred, EMAIL if preferred == SMS else SMS]
    routes = [Route(channel, address) for channel in order if (address := contact.address_for(channel))]
    if not routes:
        return Fail("no_address")
    return routes[0], (routes[1] if len(routes) > 1 else None)


def backoff(attempts: int, *, rng: random.Random | None = None) -> timedelta:
    """Exponential with jitter, capped: many messages failing together do not all come back together."""
    ceiling = min(FIRST_BACKOFF * 2 ** min(attempts - 1, 16), MAX_BACKOFF)
    return ceiling * (0.5 + 0.5 * (rng or random).random())


def wait_for_dependency(message: Message, *, now: datetime, rng: random.Random | None = None) -> timedelta:
    """While the scheduler or transport is away: half the time waited so far, between 2 s and a minute, jittered."""
    waited = now - (message.due_at or now)
    ceiling = min(max(waited / 2, timedelta(seconds=2)), MAX_WAIT)
    return ceiling * (0.5 + 0.5 * (rng or random).random())
