"""A message is a durable intent: planned when an event arrives, sent by the delivery worker when it is due.

Its lifecycle is ``TRANSITIONS``; a step the table does not list for the message's status is refused. The text is
rendered at send time (so it names the session as it is then) and kept, with the channel it went by, as the
delivery log. ``last_error`` and ``cancel_reason`` are codes, never a patient's data.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shared.contract import NOTIFICATION_FAILED, NOTIFICATION_SENT, Event, new_event

from .outgoing import Receipt, ReceiptStatus
from .wording import ESCORT_PATIENT_READY, ESCORT_RIDE_REQUEST, FOLLOW_UP, REMINDER, RIDE_AT_RISK, RIDE_CONFIRMATION

PATIENT = "patient"
ESCORT = "escort"
FRONT_DESK = "front_desk"
RECIPIENTS = (PATIENT, ESCORT, FRONT_DESK)

# What a patient may opt out of; never the instructions, the notices of a change, nor anything about the ride home.
OPTIONAL_KINDS = frozenset({REMINDER, FOLLOW_UP})
# About the ride home: an SMS of these kinds is not held for quiet hours when the pickup is close.
RIDE_HOME_KINDS = frozenset({ESCORT_RIDE_REQUEST, ESCORT_PATIENT_READY, RIDE_CONFIRMATION, RIDE_AT_RISK})


class MessageStatus(StrEnum):
    SCHEDULED = "scheduled"  # waiting for its time (or for its next attempt)
    SENDING = "sending"  # rendered and handed to a channel; the result is not recorded yet
    SENT = "sent"  # the SMTP server or the SMS gateway took it
    STORED = "stored"  # kept in the local outbox: nothing left the clinic
    DELIVERED = "delivered"  # the gateway reports it reached the phone
    FAILED = "failed"
    CANCELLED = "cancelled"


class Step(StrEnum):
    POSTPONE = "postpone"  # quiet hours, or a dependency down: the same intent, later
    START = "start"
    RETRY = "retry"  # the channel failed for a passing reason: back to waiting, with a backoff
    FALL_BACK = "fall_back"  # the channel refused for good: the other channel, once
    RECORD = "record"
    FAIL = "fail"
    CANCEL = "cancel"


TRANSITIONS: dict[MessageStatus, dict[Step, MessageStatus]] = {
    MessageStatus.SCHEDULED: {
        Step.POSTPONE: MessageStatus.SCHEDULED,
        Step.START: MessageStatus.SENDING,
        Step.FAIL: MessageStatus.FAILED,  # nobody to send it to
        Step.CANCEL: MessageStatus.CANCELLED,
    },
    # A message in flight is not cancelled: it may be out already, and its result is still to be recorded.
    MessageStatus.SENDING: {
        Step.RETRY: MessageStatus.SCHEDULED,
        Step.FALL_BACK: MessageStatus.SENDING,
        Step.RECORD: MessageStatus.SENT,  # or STORED, DELIVERED: what the channel's receipt says
        Step.FAIL: MessageStatus.FAILED,
    },
    MessageStatus.SENT: {},
    MessageStatus.STORED: {},
    MessageStatus.DELIVERED: {},
    MessageStatus.FAILED: {},
    MessageStatus.CANCELLED: {},
}

RECEIPTS = {
    ReceiptStatus.SENT: MessageStatus.SENT,
    ReceiptStatus.STORED: MessageStatus.STORED,
    ReceiptStatus.DELIVERED: MessageStatus.DELIVERED,
}
PENDING = frozenset({MessageStatus.SCHEDULED, MessageStatus.SENDING})


class StepRefused(Exception):
    def __init__(self, status: MessageStatus, step: Step):
        super().__init__(f"a {status.value} message cannot {step.value}")
        self.status = status
        self.step = step


@dataclass
class Message:
    id: str
    session_id: str
    patient_id: str
    kind: str
    channel: str | None  # chosen at send time; None until then
    subject: str | None
    body: str | None
    status: MessageStatus
    created_at: datetime
    sent_at: datetime | None = None
    last_error: str | None = None
    recipient: str = PATIENT
    # Which occasion of its kind this is for the session and recipient: "" for a kind sent once per session, the
    # event that asked for it otherwise (a reminder adds its threshold). Unique with session, kind and recipient.
    dedupe_key: str = ""
    due_at: datetime | None = None
    next_attempt_at: datetime | None = None
    attempts: int = 0
    language: str | None = None
    ride_id: str | None = None
    # A code the wording needs at send time: a reminder's threshold ("48h"), a ride's at-risk label ("2h").
    detail: str | None = None
    cancel_reason: str | None = None
    fell_back: bool = False

    @property
    def settled(self) -> bool:
        return self.status not in PENDING

    @property
    def pending(self) -> bool:
        return self.status in PENDING

    def allows(self, step: Step) -> bool:
        return step in TRANSITIONS[self.status]

    def _step(self, step: Step, to: MessageStatus | None = None) -> None:
        if not self.allows(step):
            raise StepRefused(self.status, step)
        self.status = to or TRANSITIONS[self.status][step]

    def postpone(self, until: datetime, *, error: str | None = None) -> None:
        self._step(Step.POSTPONE)
        self.next_attempt_at = until
        if error is not None:
            self.last_error = error[:200]

    def cancel(self, reason: str) -> None:
        self._step(Step.CANCEL)
        self.cancel_reason = reason[:64]

    def start(self, *, channel: str, language: str, subject: str | None, body: str) -> None:
        """Rendered and about to be handed over: recorded before the channel is called, so a crash resends this."""
        self._step(Step.START)
        self._render(channel, language, subject, body)
        self.attempts += 1

    def fall_back(self, *, channel: str, language: str, subject: str | None, body: str, error: str) -> None:
        self._step(Step.FALL_BACK)
        self._render(channel, language, subject, body)
        self.fell_back = True
        self.last_error = error[:200]

    def _render(self, channel: str, language: str, subject: str | None, body: str) -> None:
        self.channel, self.language, self.subject, self.body = channel, language, subject, body

    def record(self, receipt: Receipt, *, now: datetime) -> list[Event]:
        self._step(Step.RECORD, RECEIPTS[receipt.status])
        self.sent_at = now
        # Stored is not sent: nothing left the clinic, so nothing is announced as sent.
        return [] if self.status is MessageStatus.STORED else [self._event(NOTIFICATION_SENT)]

    def retry(self, *, at: datetime, error: str) -> None:
        self._step(Step.RETRY)
        self.next_attempt_at = at
        self.last_error = error[:200]

    def fail(self, error: str) -> list[Event]:
        self._step(Step.FAIL)
        self.last_error = error[:200]
        return [self._event(NOTIFICATION_FAILED, reason=self.last_error)]

    def _event(self, event_type, **extra) -> Event:
        return new_event(
            event_type,
            {
                "notification_id": self.id,
                "session_id": self.session_id,
                "kind": self.kind,
                "channel": self.channel or "none",
                **extra,
            },
            correlation_id=self.session_id,
        )


def planned(
    *,
    message_id: str,
    session_id: str,
    patient_id: str,
    kind: str,
    recipient: str,
    dedupe_key: str,
    due_at: datetime,
    now: datetime,
    ride_id: str | None = None,
    detail: str | None = None,
) -> Message:
    """A new intent, waiting for its time; nothing about it is rendered yet."""
    return Message(
        id=message_id,
        session_id=session_id,
        patient_id=patient_id,
        kind=kind,
        channel=None,
        subject=None,
        body=None,
        status=MessageStatus.SCHEDULED,
        created_at=now,
        recipient=recipient,
        dedupe_key=dedupe_key,
        due_at=due_at,
        next_attempt_at=due_at,
        ride_id=ride_id,
        detail=detail,
    )
