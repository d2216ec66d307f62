"""Hand-written fakes of the notifications service's repository and ports, kept in memory, for the unit tier.

The repository goes into ``fakes.FakeUnitOfWork(messages=...)``; the directory stands for the scheduler's API, the
links for transport's, the channels for SMTP and the SMS gateway, the templates for the clinic's wording.
"""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from services.notifications.domain.contacts import (
    ClinicFacts,
    Contact,
    ContactUnavailable,
    Escort,
    SessionFacts,
    SessionUnknown,
)
from services.notifications.domain.messages import PENDING, Message, MessageStatus
from services.notifications.domain.outgoing import DeliveryFailed, Outgoing, Receipt, ReceiptStatus
from services.notifications.domain.rides import EscortLink
from services.notifications.domain.wording import MessageContext, Rendered

CLINIC = ClinicFacts(
    name="Riverside Ketamine Clinic",
    time_zone=ZoneInfo("America/New_York"),
    treatment_labels={"iv_infusion": "IV ketamine infusion", "esketamine_nasal_spray": "esketamine nasal spray"},
    arrival_lead=timedelta(minutes=15),
    address="12 River Road",
)
START = datetime(2027, 1, 5, 14, 0, tzinfo=UTC)  # 09:00 in New York
ANN = Contact("patient-1", "Ann Lee", "+14155550123", "ann@example.org", preferred_channel="sms")
BO = Escort(session_id="session-1", patient_id="patient-1", name="Bo Lee", phone="+14155550124")


def a_session(
    *, session_id: str = "session-1", status: str = "booked", starts_at: datetime = START, escort=BO
) -> SessionFacts:
    return SessionFacts(
        session_id=session_id,
        patient_id="patient-1",
        status=status,
        treatment_type="iv_infusion",
        starts_at=starts_at,
        treatment_ends_at=starts_at + timedelta(minutes=45),
        recovery_ends_at=starts_at + timedelta(minutes=90),
        ride_mode="escort" if escort else "provider",
        escort=escort,
    )


class FakeMessageRepository:
    """Keeps copies, so only ``add`` and ``save`` change what is stored; ``claims`` stands for the claim column."""

    def __init__(self, *messages: Message):
        self.by_id: dict[str, Message] = {m.id: replace(m) for m in messages}
        self.claims: dict[str, datetime] = {}
        self.added = 0

    def add(self, message: Message) -> None:
        if message.id in self.by_id:
            raise ValueError(f"message {message.id} already stored")
        key = (message.session_id, message.kind, message.recipient, message.dedupe_key)
        if any((m.session_id, m.kind, m.recipient, m.dedupe_key) == key for m in self.by_id.values()):
            raise ValueError("this occasion already has its message")  # the unique constraint
        self.by_id[message.id] = replace(message)
        self.added += 1

    def save(self, message: Message, *, was: MessageStatus | None = None) -> bool:
        if was is not None and self.by_id[message.id].status is not was:
            return False
        self.by_id[message.id] = replace(message)
        if message.status is not MessageStatus.SENDING:
            self.claims.pop(message.id, None)
        return True

    def get(self, message_id: str) -> Message | None:
        message = self.by_id.get(message_id)
        return replace(message) if message else None

    def for_session(self, session_id: str) -> list[Message]:
        return [replace(m) for m in self.by_id.values() if m.session_id == session_id]

    def latest(self, limit: int = 100, *, status: MessageStatus | None = None) -> list[Message]:
        chosen = [replace(m) for m in self.by_id.values() if status is None or m.status is status]
        return sorted(chosen, key=lambda m: m.created_at, reverse=True)[:limit]

    def due(self, now: datetime, limit: int = 100) -> list[Message]:
        return sorted(
            (
                replace(m)
                for m in self.by_id.values()
                if m.status in PENDING
                and m.next_attempt_at is not None
                and m.next_attempt_at <= now
                and self.claims.get(m.id, now - timedelta(seconds=1)) < now
            ),
            key=lambda m: (m.next_attempt_at, m.id),
        )[:limit]

    def claim(self, message_id: str, *, now: datetime, until: datetime) -> bool:
        message = self.by_id.get(message_id)
        if message is None or message.status not in PENDING or self.claims.get(message_id, now) > now:
            return False
        self.claims[message_id] = until
        return True

    @property
    def all(self) -> list[Message]:
        return list(self.by_id.values())

    def of_kind(self, kind: str) -> list[Message]:
        return sorted((m for m in self.by_id.values() if m.kind == kind), key=lambda m: (m.due_at, m.dedupe_key))


class FakeDirectory:
    """The scheduler's API: contacts, sessions (with their escort), calendars and the clinic's facts."""

    def __init__(self, *contacts: Contact, sessions: tuple[SessionFacts, ...] = (), clinic: ClinicFacts = CLINIC):
        self.clinic_facts = clinic
        self.contacts = {c.patient_id: c for c in contacts}
        self.sessions = {s.session_id: s for s in sessions}
        self.unavailable: Exception | None = None  # raised for everything while set: the scheduler is down
        self.asked: list[str] = []

    def _answer(self, what: str) -> None:
        self.asked.append(what)
        if self.unavailable is not None:
            raise self.unavailable

    def session(self, session_id: str) -> SessionFacts:
        self._answer(f"session {session_id}")
        try:
            return self.sessions[session_id]
        except KeyError:
            raise SessionUnknown("the scheduler has no such session") from None

    def contact(self, patient_id: str) -> Contact:
        self._answer(f"patient {patient_id}")
        try:
            return self.contacts[patient_id]
        except KeyError:
            raise ContactUnavailable("the scheduler has no such patient") from None

    def clinic(self) -> ClinicFacts:
        self._answer("clinic")
        return self.clinic_facts

    def calendar(self, session_id: str) -> bytes:
        self._answer(f"calendar {session_id}")
        return f"BEGIN:VCALENDAR\r\nUID:{session_id}\r\nEND:VCALENDAR\r\n".encode()


class FakeEscortLinks:
    """Transport's escort links: a link per ride, or what transport answers instead (409, 404, down)."""

    def __init__(self, *, answers: dict[str, Exception] | None = None, base: str = "http://transport.test/escort"):
        self._answers = dict(answers or {})
        self._base = base
        self.asked: list[str] = []

    def answer(self, ride_id: str, failure: Exception | None) -> None:
        if failure is None:
            self._answers.pop(ride_id, None)
        else:
            self._answers[ride_id] = failure

    def url_for(self, ride_id: str) -> str:
        return f"{self._base}/tok-{ride_id}-secret"

    def escort_link(self, ride_id: str) -> EscortLink:
        self.asked.append(ride_id)
        if ride_id in self._answers:
            raise self._answers[ride_id]
        return EscortLink(url=self.url_for(ride_id), expires_at=None)


class FakeChannel:
    """Takes every message (answering ``receipt``), or refuses the next ones with ``failures``, in order."""

    def __init__(self, name: str, *, receipt: ReceiptStatus = ReceiptStatus.SENT, failures=()):
        self.name = name
        self.receipt = receipt
        self.failures: list[DeliveryFailed] = list(failures)
        self.tries: list[Outgoing] = []
        self.taken: list[Outgoing] = []

    def send(self, outgoing: Outgoing) -> Receipt:
        self.tries.append(outgoing)
        if self.failures:
            raise self.failures.pop(0)
        self.taken.append(outgoing)
        return Receipt(self.receipt, gateway_id=f"gw-{outgoing.message_id}")


class ProcessCrashed(BaseException):
    """Stands for the process dying (killed, out of memory): nothing after it runs, no retry catches it."""


class CrashingChannel(FakeChannel):
    """Hands the message over, then the process dies before the service records that it was sent."""

    def send(self, outgoing: Outgoing) -> Receipt:
        super().send(outgoing)
        raise ProcessCrashed("killed after handing the message over")


class IdempotentGateway(FakeChannel):
    """Like the SMS gateway: a message id it already took is answered again, not sent again."""

    def __init__(self, name: str = "sms"):
        super().__init__(name)
        self.texts_sent: list[str] = []

    def send(self, outgoing: Outgoing) -> Receipt:
        receipt = super().send(outgoing)
        if outgoing.message_id not in self.texts_sent:
            self.texts_sent.append(outgoing.message_id)
        return receipt


class FakeTemplates:
    """Writes what it was given in a line a test can read: the kind, channel, language and the main facts."""

    def __init__(self):
        self.rendered: list[tuple[str, str, str, MessageContext]] = []

    def render(
        self, kind: str, *, channel: str, language: str, treatment_type: str | None, context: MessageContext
    ) -> Rendered:
        self.rendered.append((kind, channel, language, context))
        starts = context.starts_at.strftime("%Y-%m-%d %H:%M") if context.starts_at else "-"
        body = f"{kind} [{language}] starts {starts} for {context.patient_first_name or '-'}"
        if context.link:
            body += f" link {context.link}"
        if context.previous_starts_at:
            body += f" was {context.previous_starts_at:%Y-%m-%d %H:%M}"
        return Rendered(subject=f"{kind} subject" if channel == "email" else None, body=body)
