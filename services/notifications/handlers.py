"""The notifications service's use cases on events: plan the messages an event calls for, cancel those it makes
pointless, and record that with the event in one transaction. Nothing is sent here, nobody outside is asked: the
delivery worker sends each message when it is due."""

import logging
from collections.abc import Callable
from datetime import datetime

from shared.contract import Event

from .domain.messages import Message, MessageStatus
from .domain.planning import Occasion, Policy, plan

log = logging.getLogger(__name__)


def plan_messages(event: Event, *, uow_factory: Callable, policy: Policy, clock: Callable[[], datetime]) -> None:
    session_id = event.data["session_id"]
    with uow_factory() as uow:
        if uow.inbox.already_processed(event):
            log.info("%s %s already handled", event.type, event.event_id)
            return
        existing = uow.messages.for_session(session_id)
        result = plan(Occasion(event.type, event.event_id, event.data, clock()), existing, policy)
        cancelled = 0
        for message, reason in result.cancel:
            status = message.status
            message.cancel(reason)
            # A message the worker started meanwhile is in flight: it is left to finish.
            cancelled += uow.messages.save(message, was=status)
        for message in result.add:
            uow.messages.add(message)
        uow.inbox.record(event)
        uow.commit()
    for warning in result.warnings:
        log.warning("%s %s for session %s: no message (%s)", event.type, event.event_id, session_id, warning)
    log.info(
        "%s %s for session %s: %s planned, %d cancelled",
        event.type,
        event.event_id,
        session_id,
        ", ".join(m.kind for m in result.add) or "nothing",
        cancelled,
    )


def list_messages(*, session_id: str | None, uow) -> list[Message]:
    with uow.read_only():
        return uow.messages.for_session(session_id) if session_id else uow.messages.latest()


def stored_messages(*, uow, limit: int = 50) -> list[Message]:
    with uow.read_only():
        return uow.messages.latest(limit, status=MessageStatus.STORED)
