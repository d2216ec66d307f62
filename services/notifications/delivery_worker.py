"""The delivery worker: sends each due message once, outside any message handler.

Its only state is the rows, so a restart (or a second replica) picks up where it stopped. For each due message it
asks the scheduler for the session and the person as they are now (and transport for an escort's link), decides
(cancel, wait, fail or send, ``domain/sending.py``), renders the text, records it with status ``sending`` and only
then hands it to the channel, recording the result after. A crash between the two leaves the message ``sending``:
the next look hands the same text over again under the same id, which the SMS gateway's idempotency key turns into
no second text (SMTP has no such key: the e-mail may arrive twice, with the same Message-ID).
"""

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from shared.polling import PollingWorker
from shared.redaction import describe

from .domain.contacts import ClinicFacts, Contact, ContactUnavailable, SessionFacts, SessionUnknown
from .domain.context import context_for
from .domain.messages import ESCORT, PATIENT, Message, MessageStatus
from .domain.outgoing import EMAIL, Attachment, Channel, DeliveryFailed, Outgoing, Receipt
from .domain.rides import EscortLink, EscortLinks, NoLongerAwaitingEscort
from .domain.sending import (
    MAX_ATTEMPTS,
    Cancel,
    Fail,
    Respect,
    Route,
    Send,
    Wait,
    backoff,
    decide,
    wait_for_dependency,
)
from .domain.wording import (
    ESCORT_RIDE_REQUEST,
    PREPARATION_INSTRUCTIONS,
    REMINDER,
    SESSION_RESCHEDULED,
    Templates,
)

log = logging.getLogger(__name__)

# Longer than a channel's own timeouts and retries; a worker that died holding a message lets it go after this.
CLAIM = timedelta(seconds=90)
# E-mails about a session coming up carry it as a calendar entry.
WITH_CALENDAR = frozenset({PREPARATION_INSTRUCTIONS, REMINDER, SESSION_RESCHEDULED})


class Directory(Protocol):
    def session(self, session_id: str) -> SessionFacts: ...
    def contact(self, patient_id: str) -> Contact: ...
    def clinic(self) -> ClinicFacts: ...
    def calendar(self, session_id: str) -> bytes: ...


@dataclass(frozen=True)
class Peers:
    """Everything the worker talks to: the scheduler, transport, the channels and the clinic's wording."""

    directory: Directory
    links: EscortLinks
    channels: Mapping[str, Channel]
    templates: Templates
    respect: Respect


@dataclass(frozen=True)
class Facts:
    session: SessionFacts
    contact: Contact | None
    clinic: ClinicFacts


def deliver_due(*, uow_factory: Callable, peers: Peers, clock: Callable[[], datetime], batch: int = 20) -> int:
    """Claim a batch of due messages in one transaction, then take each in turn; how many were taken."""
    with uow_factory() as uow:
        now = clock()
        claimed = [
            m for m in uow.messages.due(now, limit=batch) if uow.messages.claim(m.id, now=now, until=now + CLAIM)
        ]
        uow.commit()
    for message in claimed:
        deliver(message, uow_factory=uow_factory, peers=peers, clock=clock)
    return len(claimed)


def deliver(message: Message, *, uow_factory: Callable, peers: Peers, clock: Callable[[], datetime]) -> None:
    """Decide, render, record, send, record: one message, claimed by this worker."""
    try:
        facts = _facts(message, peers)
    except SessionUnknown:
        return _settle_unsent(message, Cancel("session_unknown"), uow_factory)
    except ContactUnavailable:
        return _settle_unsent(message, Fail("unknown_patient"), uow_factory)
    except Exception as exc:  # the scheduler away: the message waits, the worker goes on
        return _wait(message, exc, uow_factory, clock)
    if message.status is MessageStatus.SENDING:
        return _send_again(message, facts, uow_factory=uow_factory, peers=peers, clock=clock)
    decision = decide(message, session=facts.session, contact=facts.contact, respect=peers.respect, now=clock())
    if not isinstance(decision, Send):
        return _settle_unsent(message, decision, uow_factory)
    try:
        link = _link(message, peers)
        outgoing = _compose(message, decision.route, decision.language, facts, link, peers)
    except NoLongerAwaitingEscort:
        return _settle_unsent(message, Cancel("no_longer_awaiting_escort"), uow_factory)
    except SessionUnknown:
        return _settle_unsent(message, Cancel("session_unknown"), uow_factory)
    except _RenderFailed as failed:
        return _settle_unsent(message, Fail(failed.code), uow_factory)
    except Exception as exc:  # transport or the scheduler away
        return _wait(message, exc, uow_factory, clock)
    with uow_factory() as uow:
        message.start(
            channel=decision.route.channel, language=decision.language, subject=outgoing.subject, body=outgoing.body
        )
        if not uow.messages.save(message, was=MessageStatus.SCHEDULED):
            log.info("message %s was cancelled while it was prepared", message.id)
            return None
        uow.commit()
    fallback = None if message.fell_back else decision.fallback
    return _hand_over(message, outgoing, fallback, facts, link, uow_factory=uow_factory, peers=peers, clock=clock)


def _facts(message: Message, peers: Peers) -> Facts:
    session = peers.directory.session(message.session_id)
    # The front desk's alert needs no patient's details; the escort's messages use the patient's language.
    wants_patient = message.recipient in (PATIENT, ESCORT)
    contact = peers.directory.contact(message.patient_id or session.patient_id) if wants_patient else None
    return Facts(session, contact, peers.directory.clinic())


def _link(message: Message, peers: Peers) -> EscortLink | None:
    if message.kind != ESCORT_RIDE_REQUEST or not message.ride_id:
        return None
    return peers.links.escort_link(message.ride_id)


class _RenderFailed(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def _compose(
    message: Message, route: Route, language: str, facts: Facts, link: EscortLink | None, peers: Peers
) -> Outgoing:
    context = context_for(message, session=facts.session, contact=facts.contact, clinic=facts.clinic, link=link)
    try:
        rendered = peers.templates.render(
            message.kind,
            channel=route.channel,
            language=language,
            treatment_type=facts.session.treatment_type,
            context=context,
        )
    except Exception as exc:
        # A template's error text may quote what it was given: only its type is kept.
        raise _RenderFailed(f"render_failed:{type(exc).__name__}"[:64]) from None
    return Outgoing(
        message_id=message.id,
        channel=route.channel,
        to=route.to,
        body=rendered.body,
        subject=rendered.subject if route.channel == EMAIL else None,
        attachments=_attachments(message, route, peers),
    )


def _attachments(message: Message, route: Route, peers: Peers) -> tuple[Attachment, ...]:
    if route.channel != EMAIL or message.kind not in WITH_CALENDAR:
        return ()
    calendar = peers.directory.calendar(message.session_id)
    return (Attachment(f"session-{message.session_id}.ics", "text/calendar", calendar),)


def _hand_over(
    message: Message,
    outgoing: Outgoing,
    fallback: Route | None,
    facts: Facts,
    link: EscortLink | None,
    *,
    uow_factory: Callable,
    peers: Peers,
    clock: Callable[[], datetime],
) -> None:
    try:
        receipt = _send(peers, outgoing)
    except DeliveryFailed as failure:
        if failure.permanent and fallback is not None:
            return _fall_back(
                message, failure, fallback, facts, link, uow_factory=uow_factory, peers=peers, clock=clock
            )
        return _failed(message, failure, uow_factory, clock)
    _record(message, receipt, uow_factory, clock)
    return None


def _send(peers: Peers, outgoing: Outgoing) -> Receipt:
    channel = peers.channels.get(outgoing.channel)
    if channel is None:
        raise DeliveryFailed(f"no_{outgoing.channel}_channel", permanent=True)
    try:
        return channel.send(outgoing)
    except DeliveryFailed:
        raise
    except Exception as exc:  # a channel's bug or an unexpected network error: worth another try later
        raise DeliveryFailed(f"channel_error:{type(exc).__name__}", permanent=False) from exc


def _fall_back(
    message: Message,
    failure: DeliveryFailed,
    route: Route,
    facts: Facts,
    link: EscortLink | None,
    *,
    uow_factory: Callable,
    peers: Peers,
    clock: Callable[[], datetime],
) -> None:
    error = _code(message.channel, failure)
    try:
        outgoing = _compose(message, route, message.language or "en", facts, link, peers)
    except Exception as exc:
        log.warning("message %s: no fallback to %s (%s)", message.id, route.channel, describe(exc))
        return _failed(message, failure, uow_factory, clock)
    with uow_factory() as uow:
        message.fall_back(
            channel=route.channel,
            language=message.language or "en",
            subject=outgoing.subject,
            body=outgoing.body,
            error=error,
        )
        uow.messages.save(message)
        uow.commit()
    log.info("message %s: refused for good (%s); trying %s", message.id, error, route.channel)
    return _hand_over(message, outgoing, None, facts, link, uow_factory=uow_factory, peers=peers, clock=clock)


def _send_again(
    message: Message, facts: Facts, *, uow_factory: Callable, peers: Peers, clock: Callable[[], datetime]
) -> None:
    """Found ``sending``: a crash came between handing it over and recording it. The same text, under the same id."""
    recipient = facts.session.escort if message.recipient == ESCORT else facts.contact
    channel = message.channel or ""
    address = (
        peers.respect.front_desk_email
        if message.recipient not in (PATIENT, ESCORT)
        else (recipient.address_for(channel) if recipient is not None else None)
    )
    if not address or message.body is None:
        with uow_factory() as uow:
            events = message.fail("no_address")
            uow.messages.save(message)
            uow.outbox.add(events)
            uow.commit()
        return None
    try:
        attachments = _attachments(message, Route(channel, address), peers)
    except Exception as exc:
        return _wait(message, exc, uow_factory, clock)
    outgoing = Outgoing(message.id, channel, address, message.body, message.subject, attachments)
    with uow_factory() as uow:
        message.attempts += 1
        uow.messages.save(message)
        uow.commit()
    log.info("message %s found in flight after a restart: handing it over again under the same id", message.id)
    return _hand_over(message, outgoing, None, facts, None, uow_factory=uow_factory, peers=peers, clock=clock)


def _record(message: Message, receipt: Receipt, uow_factory: Callable, clock: Callable[[], datetime]) -> None:
    with uow_factory() as uow:
        events = message.record(receipt, now=clock())
        uow.messages.save(message)
        uow.outbox.add(events)
        uow.commit()
    _log(message)


def _failed(message: Message, failure: DeliveryFailed, uow_factory: Callable, clock: Callable[[], datetime]) -> None:
    error = _code(message.channel, failure)
    with uow_factory() as uow:
        if failure.permanent or message.attempts >= MAX_ATTEMPTS:
            uow.outbox.add(message.fail(error))
        else:
            message.retry(at=clock() + backoff(message.attempts), error=error)
        uow.messages.save(message)
        uow.commit()
    _log(message)


def _settle_unsent(message: Message, decision: Cancel | Fail | Wait, uow_factory: Callable) -> None:
    was = message.status
    if was is MessageStatus.SENDING and isinstance(decision, Cancel):
        decision = Fail(decision.reason)  # it may be out already: not cancelled, but it cannot be finished
    with uow_factory() as uow:
        events = []
        if isinstance(decision, Cancel):
            message.cancel(decision.reason)
        elif isinstance(decision, Fail):
            events = message.fail(decision.reason)
        else:
            message.postpone(decision.until)
        if uow.messages.save(message, was=was):
            uow.outbox.add(events)
            uow.commit()
    _log(message, getattr(decision, "reason", None))


def _wait(message: Message, error: Exception, uow_factory: Callable, clock: Callable[[], datetime]) -> None:
    """A dependency is away: the message keeps its status and waits, backing off up to a minute."""
    now = clock()
    status = message.status
    message.next_attempt_at = now + wait_for_dependency(message, now=now)
    message.last_error = f"dependency:{describe(error)}"[:200]
    with uow_factory() as uow:
        uow.messages.save(message, was=status)
        uow.commit()
    log.warning("message %s waits for a dependency until %s: %s", message.id, message.next_attempt_at, describe(error))


def _code(channel: str | None, failure: DeliveryFailed) -> str:
    kind = "permanent" if failure.permanent else "temporary"
    return f"{channel or 'none'}:{kind}:{failure.reason}"[:200]


def _log(message: Message, reason: str | None = None) -> None:
    log.info(
        "message %s (%s to the %s of session %s): %s%s",
        message.id,
        message.kind,
        message.recipient,
        message.session_id,
        message.status.value,
        f" ({reason})" if reason else "",
    )


class DeliveryWorker(PollingWorker):
    def __init__(
        self, uow_factory: Callable, peers: Peers, *, clock: Callable[[], datetime], poll_interval: float = 1.0
    ):
        super().__init__(
            "delivery worker",
            lambda: deliver_due(uow_factory=uow_factory, peers=peers, clock=clock),
            poll_interval=poll_interval,
        )
