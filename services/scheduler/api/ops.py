"""The ops page's JSON twin under /api/ops/: the queues, the services, the overview with its alerts, and the dead
letters listed, replayed and discarded. Registered inside /api, so the service token and a staff session (ops and
admins) both reach it."""

from flask import Blueprint, jsonify
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema

from shared.contract.fields import Identifier, PlainText
from shared.web import json_body, query_args
from shared.web.auth import api_caller
from shared.web.openapi import json_content, operation

from ..domain.staff import SERVICE_ACTOR, Actor
from ..ops_handlers import Ops
from .fields import StrictBoolean

MAX_IDS = 500
MAX_REASON = 150
RETRY_AFTER_SECONDS = 5
BROKER_UNAVAILABLE = {
    "description": "The broker did not answer; whatever it did not confirm is still in the dead-letter queue.",
    "content": json_content("ErrorsOut"),
}


class _Out(Schema):
    class Meta:
        unknown = EXCLUDE


class _In(Schema):
    class Meta:
        unknown = RAISE


class DepthOut(_Out):
    at = fields.DateTime(required=True)
    ready = fields.Integer(required=True, allow_none=True)


class QueueFiguresOut(_Out):
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": ["work", "dead_letters", "retry"]})
    of_queue = fields.String(required=True, metadata={"description": "The work queue this one belongs to."})
    exists = fields.Boolean(required=True)
    ready = fields.Integer(required=True, allow_none=True)
    unacknowledged = fields.Integer(
        required=True, allow_none=True, metadata={"description": "null where the source cannot tell (AMQP, memory)."}
    )
    consumers = fields.Integer(required=True, allow_none=True)
    publish_rate = fields.Float(required=True, allow_none=True, metadata={"description": "Messages/s; management API."})
    deliver_rate = fields.Float(required=True, allow_none=True, metadata={"description": "Messages/s; management API."})
    depths = fields.List(
        fields.Nested(DepthOut),
        required=True,
        metadata={"description": "The ready count at each sample of the last minutes, oldest first."},
    )


class QueuesOut(_Out):
    source = fields.String(
        required=True,
        metadata={"enum": ["management", "amqp", "in-memory"], "description": "Where the figures come from."},
    )
    reachable = fields.Boolean(required=True)
    error = fields.String(required=True, allow_none=True)
    taken_at = fields.DateTime(required=True)
    queues = fields.List(fields.Nested(QueueFiguresOut), required=True)


class LastHandledOut(_Out):
    type = fields.String(required=True, allow_none=True)
    event_id = fields.String(required=True, allow_none=True)
    at = fields.String(required=True, allow_none=True)


class ServiceOut(_Out):
    name = fields.String(required=True)
    url = fields.String(required=True, allow_none=True)
    reachable = fields.Boolean(required=True)
    ready = fields.Boolean(required=True)
    problems = fields.List(fields.String(), required=True)
    consumer_status = fields.String(required=True, allow_none=True)
    last_handled = fields.Nested(LastHandledOut, required=True, allow_none=True)
    outbox_pending = fields.Integer(required=True, allow_none=True)
    oldest_unsent_age_seconds = fields.Float(required=True, allow_none=True)
    figures = fields.Dict(keys=fields.String(), required=True)
    error = fields.String(required=True, allow_none=True)


class ServicesOut(_Out):
    services = fields.List(fields.Nested(ServiceOut), required=True)


class AlertOut(_Out):
    kind = fields.String(required=True)
    subject = fields.String(required=True)
    severity = fields.String(required=True, metadata={"enum": ["critical", "warning"]})
    message = fields.String(required=True)


class RideAtRiskOut(_Out):
    session_id = fields.String(required=True)
    starts_at = fields.DateTime(required=True)


class BusinessOut(_Out):
    day = fields.Date(required=True)
    sessions_today = fields.Integer(required=True)
    without_confirmed_ride = fields.Integer(
        required=True, metadata={"description": "Today's sessions needing a ride home not confirmed yet."}
    )
    rides_at_risk = fields.List(fields.Nested(RideAtRiskOut), required=True)
    messages_failed = fields.Integer(
        required=True, allow_none=True, metadata={"description": "From notifications' readiness; null if unknown."}
    )


class BrokerOut(_Out):
    source = fields.String(required=True)
    reachable = fields.Boolean(required=True)
    error = fields.String(required=True, allow_none=True)


class ThresholdsOut(_Out):
    queue_depth = fields.Integer(required=True)
    outbox_age_seconds = fields.Float(required=True)


class OverviewOut(_Out):
    taken_at = fields.DateTime(required=True)
    broker = fields.Nested(BrokerOut, required=True)
    business = fields.Nested(BusinessOut, required=True, allow_none=True)
    business_error = fields.String(required=True, allow_none=True)
    alerts = fields.List(fields.Nested(AlertOut), required=True)
    thresholds = fields.Nested(ThresholdsOut, required=True)


class DeadLetterOut(_Out):
    event_id = fields.String(required=True)
    type = fields.String(required=True, allow_none=True)
    session_id = fields.String(required=True, allow_none=True)
    reason = fields.String(required=True, allow_none=True)
    times_dead_lettered = fields.Integer(required=True)
    retry_rounds = fields.Integer(required=True)
    original_queue = fields.String(required=True)
    dead_lettered_at = fields.String(required=True, allow_none=True)
    first_failed_at = fields.String(required=True, allow_none=True)


class DeadLettersOut(_Out):
    queue = fields.String(required=True)
    dead_letters = fields.List(fields.Nested(DeadLetterOut), required=True)


class DeadLetterOutcomeOut(_Out):
    queue = fields.String(required=True)
    done = fields.List(fields.String(), required=True, metadata={"description": "The event ids acted on."})
    not_found = fields.List(fields.String(), required=True, metadata={"description": "Ids not in the queue."})


def request_schemas(dead_letter_queues: tuple[str, ...]) -> dict[str, type[Schema]]:
    """The request schemas, their ``queue`` one of the topology's dead-letter queues."""

    def queue_field(**kwargs) -> fields.String:
        return fields.String(
            required=True,
            validate=validate.OneOf(dead_letter_queues, error="Name one of the dead-letter queues: {choices}."),
            **kwargs,
        )

    class DeadLettersQuery(_In):
        queue = queue_field()
        limit = fields.Integer(load_default=MAX_IDS, validate=validate.Range(min=1, max=MAX_IDS))

    class _Selection(_In):
        queue = queue_field()
        event_ids = fields.List(
            Identifier(),
            validate=validate.Length(min=1, max=MAX_IDS),
            metadata={"description": "The dead letters to act on, by event id; or `all`."},
        )
        all = StrictBoolean(
            validate=validate.Equal(True, error="Leave `all` out, or give it as true."),
            metadata={"enum": [True], "description": "Every dead letter of the queue, instead of `event_ids`."},
        )

        @validates_schema
        def _one_selection(self, data, **_kwargs):
            if "event_ids" in data and data.get("all"):
                raise ValidationError("Give either event_ids or all: true, not both.", "all")
            if "event_ids" not in data and not data.get("all"):
                raise ValidationError("Give the event ids to act on, or all: true.", "event_ids")

    class ReplayIn(_Selection):
        pass

    class DiscardIn(_Selection):
        reason = PlainText(
            required=True,
            max_length=MAX_REASON,
            metadata={"description": "Why they are thrown away; kept in the audit trail with each one."},
        )

    return {"DeadLettersQuery": DeadLettersQuery, "ReplayIn": ReplayIn, "DiscardIn": DiscardIn}


# Exactly one of the two selections, as the document says (marshmallow's validates_schema has no schema to show).
ONE_SELECTION = {"oneOf": [{"required": ["event_ids"]}, {"required": ["all"]}]}
SELECTION_SCHEMAS = ("ReplayIn", "DiscardIn")


def create_ops_api(ops: Ops, *, unavailable: tuple[type[Exception], ...] = ()) -> Blueprint:
    """``unavailable``: the exceptions saying the broker did not answer (answered 503, Retry-After)."""
    schemas = request_schemas(ops.dead_letter_queues())
    api = Blueprint("ops", __name__, url_prefix="/ops")

    def actor() -> Actor:
        caller = api_caller()
        return caller if isinstance(caller, Actor) else SERVICE_ACTOR

    def _broker_away(_exc: Exception):
        # Not the exception's text: it may carry the broker's address; the logs of the messaging layer say more.
        body = {"errors": {"_server": ["The broker did not answer; try again shortly."]}}
        return jsonify(body), 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}

    for exception in unavailable:
        api.register_error_handler(exception, _broker_away)

    @api.get("/queues")
    @operation(
        "Every queue of the topology with its figures",
        description="Each work queue, its dead-letter and retry queues: ready, unacknowledged, consumers, rates and "
        "the depth over the last minutes. With the broker out of reach, `reachable` is false (still 200).",
        ok=(200, QueuesOut),
    )
    def queues():
        snapshot, rows = ops.queues()
        document = {
            "source": snapshot.source,
            "reachable": snapshot.reachable,
            "error": snapshot.error,
            "taken_at": snapshot.taken_at,
            "queues": [
                {**_fields(row.figures), "depths": [{"at": at, "ready": n} for at, n in row.depths]} for row in rows
            ],
        }
        return jsonify(QueuesOut().dump(document))

    @api.get("/services")
    @operation("Every service's readiness, last event handled and outbox", ok=(200, ServicesOut))
    def services():
        return jsonify(ServicesOut().dump({"services": ops.services()}))

    @api.get("/overview")
    @operation(
        "The business view and the alerts",
        description="Today's sessions without a confirmed ride home, the rides at risk, the messages that failed, and "
        "every alert (a queue without a consumer, a dead letter, a queue too deep, an old unsent outbox row, a "
        "service not ready, a ride at risk, the broker out of reach).",
        ok=(200, OverviewOut),
    )
    def overview():
        snapshot = ops.snapshot()
        document = {
            "taken_at": snapshot.taken_at,
            "broker": snapshot.broker,
            "business": snapshot.business,
            "business_error": snapshot.business_error,
            "alerts": snapshot.alerts,
            "thresholds": snapshot.thresholds,
        }
        return jsonify(OverviewOut().dump(document))

    @api.get("/dead-letters")
    @operation(
        "The messages of a dead-letter queue",
        description="Type, event id, session id, why and how often each was dead-lettered; oldest first.",
        ok=(200, DeadLettersOut),
        query=schemas["DeadLettersQuery"],
        errors=(422,),
        responses={"503": BROKER_UNAVAILABLE},
    )
    def dead_letters():
        wanted = query_args(schemas["DeadLettersQuery"]())
        found = ops.dead_letters(wanted["queue"], limit=wanted["limit"])
        return jsonify(DeadLettersOut().dump({"queue": wanted["queue"], "dead_letters": found}))

    @api.post("/dead-letters/replay")
    @operation(
        "Replay dead letters to the queue they came from",
        description="Each goes back to its own work queue (not through the exchange, which would deliver it again to "
        "every other consumer) and leaves the dead-letter queue only once the broker confirmed the copy. Audited.",
        ok=(200, DeadLetterOutcomeOut),
        body=schemas["ReplayIn"],
        responses={"503": BROKER_UNAVAILABLE},
    )
    def replay():
        body = json_body(schemas["ReplayIn"]())
        outcome = ops.replay(body["queue"], _selection(body), actor=actor())
        return jsonify(DeadLetterOutcomeOut().dump({"queue": body["queue"], **_outcome(outcome)}))

    @api.post("/dead-letters/discard")
    @operation(
        "Discard dead letters for good, with a reason",
        description="The reason is kept in the audit trail beside each event id discarded.",
        ok=(200, DeadLetterOutcomeOut),
        body=schemas["DiscardIn"],
        responses={"503": BROKER_UNAVAILABLE},
    )
    def discard():
        body = json_body(schemas["DiscardIn"]())
        outcome = ops.discard(body["queue"], _selection(body), body["reason"], actor=actor())
        return jsonify(DeadLetterOutcomeOut().dump({"queue": body["queue"], **_outcome(outcome)}))

    return api


def install_ops_api(api: Blueprint, ops: Ops, **kwargs) -> None:
    api.register_blueprint(create_ops_api(ops, **kwargs))


def _selection(body: dict) -> list[str] | None:
    return None if body.get("all") else body["event_ids"]


def _outcome(outcome) -> dict:
    return {"done": list(outcome.done), "not_found": list(outcome.not_found)}


def _fields(figures) -> dict:
    names = (
        "name",
        "kind",
        "of_queue",
        "exists",
        "ready",
        "unacknowledged",
        "consumers",
        "publish_rate",
        "deliver_rate",
    )
    return {name: getattr(figures, name) for name in names}
