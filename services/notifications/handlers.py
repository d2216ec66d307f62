"""The notifications service's use cases.

A message is recorded as pending before it is handed to a gateway, with its id as the gateway's idempotency key,
so a redelivered event after a crash resends the same message rather than a second one.
"""
import logging
import uuid
from datetime import datetime
from typing import Callable

from tenacity import Retrying, stop_after_attempt, wait_exponential

from shared.contract import Event

from .domain.contacts import ContactUnavailable
from .domain.delivery import DeliveryFailed, Gateway
from .domain.messages import PREPARATION_INSTRUCTIONS, Message, preparation_instructions, undeliverable

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
            message_id=str(uuid.uuid4()), session_booked=data, kind=PREPARATION_INSTRUCTIONS, now=clock()
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


def _deliver(message: Message, contact, gateway: Gateway, attempts: int) -> str | None:
    """Hand the message to the gateway; return None when delivered, or why it could not be."""
    address = contact.address_for(message.channel)
    if not address:
        return f"the patient has no {message.channel} address"
    try:
        for attempt in Retrying(stop=stop_after_attempt(attempts), wait=wait_exponential(multiplier=0.2, max=2), reraise=True):
            with attempt:
                gateway.deliver(message, address)
    except DeliveryFailed as exc:
        log.warning("message %s could not be delivered by %s after %d attempts: %s", message.id, message.channel, attempts, exc)
        return _explain(exc)
    return None


def _explain(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def _settle(event: Event, message: Message, uow_factory: Callable, clock, *, failure: str | None) -> None:
    with uow_factory() as uow:
        events = message.mark_sent(now=clock()) if failure is None else message.mark_failed(reason=failure, now=clock())
        uow.messages.upsert(message)
        uow.outbox.add(events)
        uow.inbox.record(event)
        uow.commit()


def list_messages(*, session_id: str | None, uow) -> list[Message]:
    with uow.read_only():
        return uow.messages.for_session(session_id) if session_id else uow.messages.latest()
