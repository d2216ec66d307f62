"""The notifications service's use cases.

A message is recorded as pending before it is handed to a gateway, with its id as the gateway's idempotency key,
so a redelivered event after a crash resends the same message rather than a second one.
"""

import logging
import uuid
from collections.abc import Callable
from datetime import datetime

from tenacity import Retrying, stop_after_attempt, wait_exponential

from shared.contract import Event

from .domain.contacts import ContactUnavailable, Escort, EscortUnavailable
from .domain.delivery import DeliveryFailed, Gateway
from .domain.messages import (
    ESCORT,
    ESCORT_PATIENT_READY,
    ESCORT_RIDE_REQUEST,
    PREPARATION_INSTRUCTIONS,
    Message,
    escort_patient_ready,
    escort_ride_request,
    preparation_instructions,
    undeliverable,
)
from .domain.rides import EscortLinks, NoLongerAwaitingEscort, asks_the_escort, calls_the_escort_in

log = logging.getLogger(__name__)


def send_preparation_instructions(
    event: Event,
    *,
    uow_factory: Callable,
    directory,
    gateway: Gateway,
    clock: Callable[[], datetime],
    delivery_attempts: int = 3,
) -> None:
    data = event.data
    with uow_factory() as uow:
        if uow.inbox.already_processed(event):
            log.info("%s %s already handled", event.type, event.event_id)
            return
        message = uow.messages.find(data["session_id"], PREPARATION_INSTRUCTIONS)
        if message is not None and message.settled:
            uow.inbox.record(event)
            uow.commit()
            return
    try:
        contact = directory.contact(data["patient_id"])
    except ContactUnavailable as exc:
        message = message or undeliverable(
            message_id=str(uuid.uuid4()), about=data, kind=PREPARATION_INSTRUCTIONS, now=clock()
        )
        _settle(event, message, uow_factory, clock, failure=_explain(exc))
        return
    if message is None:
        message = preparation_instructions(
            message_id=str(uuid.uuid4()), session_booked=data, contact=contact, clinic=directory.clinic(), now=clock()
        )
        with uow_factory() as uow:
            uow.messages.add(message)
            uow.commit()
    failure = _deliver(message, contact, gateway, delivery_attempts)
    _settle(event, message, uow_factory, clock, failure=failure)


def send_escort_ride_request(
    event: Event,
    *,
    uow_factory: Callable,
    directory,
    links: EscortLinks,
    gateway: Gateway,
    clock: Callable[[], datetime],
    delivery_attempts: int = 3,
) -> None:
    """Ask the escort to confirm the pickup, once for each time transport asks (a reschedule asks again)."""
    ride = event.data
    if not asks_the_escort(ride):
        _ignore(event, uow_factory)
        return
    # The asking event names the round: its redelivery finds the same message, a later round makes a new one.
    key = event.event_id
    handled, pending = _progress(event, uow_factory, ride["session_id"], ESCORT_RIDE_REQUEST, key)
    if handled:
        return
    link = None
    if pending is None:
        try:
            link = links.escort_link(ride["ride_id"])
        except NoLongerAwaitingEscort:
            log.info("%s %s: ride %s no longer waits for its escort", event.type, event.event_id, ride["ride_id"])
            _ignore(event, uow_factory)
            return

    def compose(escort: Escort, message_id: str) -> Message:
        assert link is not None  # composed only when nothing was pending, and then the link was fetched
        return escort_ride_request(
            message_id=message_id,
            ride=ride,
            escort=escort,
            link=link,
            clinic=directory.clinic(),
            dedupe_key=key,
            now=clock(),
        )

    _send_to_escort(
        event, ESCORT_RIDE_REQUEST, key, pending, compose, uow_factory, directory, gateway, clock, delivery_attempts
    )


def send_escort_patient_ready(
    event: Event,
    *,
    uow_factory: Callable,
    directory,
    gateway: Gateway,
    clock: Callable[[], datetime],
    delivery_attempts: int = 3,
) -> None:
    """Tell the escort to come now that the patient is discharged, once per ride."""
    ride = event.data
    if not calls_the_escort_in(ride):
        _ignore(event, uow_factory)
        return
    key = ride["ride_id"]
    handled, pending = _progress(event, uow_factory, ride["session_id"], ESCORT_PATIENT_READY, key)
    if handled:
        return

    def compose(escort: Escort, message_id: str) -> Message:
        return escort_patient_ready(
            message_id=message_id, ride=ride, escort=escort, clinic=directory.clinic(), now=clock()
        )

    _send_to_escort(
        event, ESCORT_PATIENT_READY, key, pending, compose, uow_factory, directory, gateway, clock, delivery_attempts
    )


def _progress(event: Event, uow_factory: Callable, session_id: str, kind: str, key: str) -> tuple[bool, Message | None]:
    """Whether the event is handled already, and else the message a crash left pending for it, if any."""
    with uow_factory() as uow:
        if uow.inbox.already_processed(event):
            log.info("%s %s already handled", event.type, event.event_id)
            return True, None
        message = uow.messages.find(session_id, kind, key)
        if message is not None and message.settled:
            uow.inbox.record(event)
            uow.commit()
            return True, None
    return False, message


def _send_to_escort(
    event: Event,
    kind: str,
    key: str,
    pending: Message | None,
    compose: Callable[[Escort, str], Message],
    uow_factory: Callable,
    directory,
    gateway: Gateway,
    clock: Callable[[], datetime],
    attempts: int,
) -> None:
    """Write the message (or take the one a crash left pending, unchanged) and hand it to the session's escort."""
    ride = event.data
    try:
        escort = directory.escort(ride["session_id"])
    except EscortUnavailable as exc:
        message = pending or undeliverable(
            message_id=str(uuid.uuid4()), about=ride, kind=kind, now=clock(), recipient=ESCORT, dedupe_key=key
        )
        _settle(event, message, uow_factory, clock, failure=_explain(exc))
        return
    message = pending
    if message is None:
        message = compose(escort, str(uuid.uuid4()))
        with uow_factory() as uow:
            uow.messages.add(message)
            uow.commit()
    _settle(event, message, uow_factory, clock, failure=_deliver(message, escort, gateway, attempts))


def _ignore(event: Event, uow_factory: Callable) -> None:
    """Handled with no message: recorded, so that a redelivery asks neither transport nor the scheduler again."""
    with uow_factory() as uow:
        if not uow.inbox.already_processed(event):
            uow.inbox.record(event)
            uow.commit()


def _deliver(message: Message, contact, gateway: Gateway, attempts: int) -> str | None:
    """Hand the message to the gateway; return None when delivered, or why it could not be."""
    address = contact.address_for(message.channel)
    if not address:
        return f"the {message.recipient} has no {message.channel} address"
    try:
        for attempt in Retrying(
            stop=stop_after_attempt(attempts), wait=wait_exponential(multiplier=0.2, max=2), reraise=True
        ):
            with attempt:
                gateway.deliver(message, address)
    except DeliveryFailed as exc:
        log.warning(
            "message %s could not be delivered by %s after %d attempts: %s", message.id, message.channel, attempts, exc
        )
        return _explain(exc)
    return None


def _explain(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def _settle(event: Event, message: Message, uow_factory: Callable, clock, *, failure: str | None) -> None:
    with uow_factory() as uow:
        events = message.mark_sent(now=clock()) if failure is None else message.mark_failed(reason=failure, now=clock())
        log.info(
            "%s %s to the %s of session %s: %s",
            message.kind,
            message.id,
            message.recipient,
            message.session_id,
            message.status.value,
        )
        uow.messages.upsert(message)
        uow.outbox.add(events)
        uow.inbox.record(event)
        uow.commit()


def list_messages(*, session_id: str | None, uow) -> list[Message]:
    with uow.read_only():
        return uow.messages.for_session(session_id) if session_id else uow.messages.latest()
