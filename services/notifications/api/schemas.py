"""Request and response bodies of notifications' API; the OpenAPI document is generated from these."""

from marshmallow import EXCLUDE, RAISE, Schema, fields

from shared.contract.fields import Identifier

from ..domain.messages import RECIPIENTS, MessageStatus
from .fields import ClinicTime


class MessagesQuery(Schema):
    class Meta:
        unknown = RAISE

    session_id = Identifier(load_default=None, metadata={"description": "Only this session's messages."})


class MessageOut(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String(metadata={"description": "Also the idempotency key the channel is given."})
    session_id = fields.String()
    patient_id = fields.String()
    kind = fields.String(metadata={"description": "e.g. preparation_instructions, reminder, escort_ride_request."})
    recipient = fields.String(metadata={"enum": list(RECIPIENTS), "description": "Who the message is for."})
    channel = fields.String(
        allow_none=True, metadata={"enum": ["sms", "email"], "description": "How it went; null until it is sent."}
    )
    status = fields.Enum(
        MessageStatus,
        by_value=True,
        metadata={
            "description": "scheduled (waiting for its time), sending, sent (the server or gateway took it), "
            "stored (kept in the local outbox: nothing left the clinic), delivered, failed, cancelled."
        },
    )
    language = fields.String(allow_none=True)
    due_at = ClinicTime(allow_none=True, metadata={"description": "When it is (or was) to go."})
    next_attempt_at = ClinicTime(allow_none=True)
    sent_at = ClinicTime(allow_none=True)
    created_at = ClinicTime()
    attempts = fields.Integer()
    last_error = fields.String(
        allow_none=True, metadata={"description": "What failed last, as a code (never a patient's data)."}
    )
    cancel_reason = fields.String(allow_none=True, metadata={"description": "e.g. rescheduled, opted_out."})
    subject = fields.String(allow_none=True, metadata={"description": "The rendered subject (e-mail)."})
    body = fields.String(allow_none=True, metadata={"description": "The rendered text, once it is sent."})


class MessagesOut(Schema):
    messages = fields.List(fields.Nested(MessageOut))
