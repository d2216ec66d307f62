"""Routes of the notifications service's JSON API."""

from collections.abc import Callable

from flask import Blueprint, Flask, jsonify
from marshmallow import EXCLUDE, RAISE, Schema, fields

from shared.contract.fields import Identifier
from shared.web import query_args
from shared.web.openapi import build_document, operation

from .. import handlers
from ..domain.messages import MessageStatus


class MessagesQuery(Schema):
    class Meta:
        unknown = RAISE

    session_id = Identifier(load_default=None, metadata={"description": "Only this session's messages."})


class MessageOut(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String()
    session_id = fields.String()
    patient_id = fields.String()
    kind = fields.String()
    recipient = fields.String(metadata={"description": "Who the message is for: `patient` or `escort`."})
    channel = fields.String()
    status = fields.Enum(MessageStatus, by_value=True)
    subject = fields.String()
    body = fields.String()
    created_at = fields.DateTime(format="iso")
    sent_at = fields.DateTime(format="iso", allow_none=True)
    failure_reason = fields.String(allow_none=True)


class MessagesOut(Schema):
    messages = fields.List(fields.Nested(MessageOut))


def create_api(*, uow_factory: Callable) -> Blueprint:
    api = Blueprint("notifications_api", __name__)

    @api.get("/messages")
    @operation("Messages to patients and their escorts", ok=(200, MessagesOut), query=MessagesQuery, errors=(422,))
    def list_messages():
        query = query_args(MessagesQuery())
        messages = handlers.list_messages(session_id=query["session_id"], uow=uow_factory())
        return jsonify(MessagesOut().dump({"messages": messages}))

    return api


def build_openapi(app: Flask) -> dict:
    return build_document(
        app,
        title="Notifications API",
        description="Preparation instructions sent to each booked patient, exactly once; each escort's request to "
        "confirm a pickup (again after a reschedule) and the call to come when the patient is discharged. "
        "Every route wants `Authorization: Bearer <SERVICE_TOKEN>`.",
        schemas={"MessageOut": MessageOut, "MessagesOut": MessagesOut},
    )
