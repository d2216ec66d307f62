"""Routes of the notifications service's JSON API."""
from typing import Callable

from flask import Blueprint, jsonify
from marshmallow import RAISE, Schema

from shared.contract.fields import Identifier
from shared.web import query_args

from .. import handlers
from ..domain.messages import Message


class MessagesQuery(Schema):
    class Meta:
        unknown = RAISE

    session_id = Identifier(load_default=None)


def create_api(*, uow_factory: Callable) -> Blueprint:
    api = Blueprint("notifications_api", __name__)

    @api.get("/messages")
    def list_messages():
        query = query_args(MessagesQuery())
        messages = handlers.list_messages(session_id=query["session_id"], uow=uow_factory())
        return jsonify({"messages": [_message_json(message) for message in messages]})

    return api


def _message_json(message: Message) -> dict:
    return {
        "id": message.id,
        "session_id": message.session_id,
        "patient_id": message.patient_id,
        "kind": message.kind,
        "channel": message.channel,
        "status": message.status.value,
        "subject": message.subject,
        "body": message.body,
        "created_at": message.created_at.isoformat(),
        "sent_at": message.sent_at.isoformat() if message.sent_at else None,
        "failure_reason": message.failure_reason,
    }
