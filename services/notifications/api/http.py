"""Routes of the notifications service's JSON API: translate HTTP to use cases and back, nothing more."""

from collections.abc import Callable
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, jsonify

from shared.web import query_args
from shared.web.openapi import build_document, operation

from .. import handlers
from ..settings import DEFAULT_CLINIC_TIME_ZONE
from .fields import CLINIC_ZONE
from .schemas import MessageOut, MessagesOut, MessagesQuery

__all__ = ["MessagesOut", "MessagesQuery", "build_openapi", "create_api"]


DEFAULT_ZONE = ZoneInfo(DEFAULT_CLINIC_TIME_ZONE)


def create_api(*, uow_factory: Callable, clinic_zone: ZoneInfo = DEFAULT_ZONE) -> Blueprint:
    api = Blueprint("notifications_api", __name__)

    @api.get("/messages")
    @operation(
        "Messages to patients, escorts and the front desk: the delivery log",
        description="Each message with its kind, recipient, channel, status, attempts, last error and, once sent, "
        "the rendered text; `session_id` gives one session's, otherwise the latest 100.",
        ok=(200, MessagesOut),
        query=MessagesQuery,
        errors=(422,),
    )
    def list_messages():
        query = query_args(MessagesQuery())
        messages = handlers.list_messages(session_id=query["session_id"], uow=uow_factory())
        token = CLINIC_ZONE.set(clinic_zone)
        try:
            return jsonify(MessagesOut().dump({"messages": messages}))
        finally:
            CLINIC_ZONE.reset(token)

    return api


def build_openapi(app: Flask) -> dict:
    return build_document(
        app,
        title="Notifications API",
        description="Messages to patients (preparation instructions, reminders, notices of a change, the ride "
        "confirmation, a follow-up), to escorts (the pickup request with its link, the call to come) and to the "
        "front desk (a ride at risk), each planned from an event and sent once when due. Times are written with "
        "the clinic's UTC offset. Every route wants `Authorization: Bearer <SERVICE_TOKEN>`.",
        schemas={"MessageOut": MessageOut, "MessagesOut": MessagesOut},
    )
