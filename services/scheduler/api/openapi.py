"""The OpenAPI document of the scheduler's API, generated from the marshmallow schemas the routes use."""
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from . import schemas

COMMON_ERRORS = {
    "BadRequest": ("The body is not valid JSON.", "ErrorsOut"),
    "Unauthorized": ("A valid bearer token is required.", "ErrorsOut"),
    "NotFound": ("No record has this id.", "ErrorsOut"),
    "PayloadTooLarge": ("The body is larger than 64 KiB.", "ErrorsOut"),
    "UnsupportedMediaType": ("Send the body as application/json.", "ErrorsOut"),
    "Unprocessable": ("Invalid input, field by field; nothing was changed.", "ErrorsOut"),
    "Refused": ("A clinic rule refused the request; `reason` says which.", "RefusalOut"),
}
ID_PARAMETER = {"schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"}, "required": True}
IDEMPOTENCY_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "Retrying with the same key and body books once and answers with the first booking.",
    "schema": {"type": "string", "pattern": "^[ -~]{1,255}$"},
}
LOCATION = {"description": "Where the new record can be read.", "schema": {"type": "string"}}
REPLAYED = {
    "description": "`true` when an Idempotency-Key was seen before: nothing new was booked.",
    "schema": {"type": "string", "enum": ["true"]},
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema) -> dict:
    return {"application/json": {"schema": schema}}


def _ok(description: str, schema, status: str = "200") -> dict:
    return {status: {"description": description, "content": _json(schema)}}


def _created(description: str, schema, *, replayable: bool = False) -> dict:
    headers = {"Location": {**LOCATION, "required": True}}
    if replayable:
        headers["Idempotent-Replayed"] = REPLAYED
    return {"201": {"description": description, "headers": headers, "content": _json(schema)}}


def _errors(*names: str) -> dict:
    statuses = {
        "BadRequest": "400",
        "Unauthorized": "401",
        "NotFound": "404",
        "Refused": "409",
        "PayloadTooLarge": "413",
        "UnsupportedMediaType": "415",
        "Unprocessable": "422",
    }
    return {statuses[name]: name for name in ("Unauthorized", *names)}


BODY_ERRORS = ("BadRequest", "PayloadTooLarge", "UnsupportedMediaType", "Unprocessable")


def _with_body(schema, description: str, responses: dict, **extra) -> dict:
    return {
        "summary": description,
        "requestBody": {"required": True, "content": _json(schema)},
        "responses": responses,
        **extra,
    }


def _session_step(summary: str, body=None, *, body_required: bool = True) -> dict:
    operation = {
        "summary": summary,
        "responses": {**_ok("The session after the step.", "SessionOut"), **_errors("NotFound", "Refused", "Unprocessable")},
    }
    if body is not None:
        operation["requestBody"] = {"required": body_required, "content": _json(body)}
        operation["responses"].update(_errors(*BODY_ERRORS))
    return {"post": operation}


def build_openapi() -> dict:
    spec = APISpec(
        title="Scheduler API",
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={
            "description": "Books ketamine-treatment sessions with their recovery buffers. Every time is written "
            "with the clinic's UTC offset; every time given must carry an offset."
        },
        security=[{"bearerAuth": []}],
    )
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    # Nested schemas first: apispec registers a nested schema itself when it meets it.
    for name in (
        "ErrorsOut",
        "RefusalOut",
        "ClinicOut",
        "IntakeOut",
        "PatientOut",
        "SessionOut",
        "SessionListOut",
        "AvailabilityOut",
        "SeriesOut",
        "SeriesRefusalOut",
    ):
        spec.components.schema(name, schema=getattr(schemas, name))
    for name, (description, schema) in COMMON_ERRORS.items():
        spec.components.response(name, {"description": description, "content": _json(schema)})

    spec.path(path="/api/clinic", operations={"get": {"summary": "The configuration in force", "responses": {**_ok("The clinic.", "ClinicOut"), **_errors()}}})
    spec.path(
        path="/api/patients",
        operations={"post": _with_body(schemas.PatientIn, "Register a patient", {**_created("Registered.", "PatientOut"), **_errors(*BODY_ERRORS)})},
    )
    patient_id = {"in": "path", "name": "patient_id", **ID_PARAMETER}
    spec.path(
        path="/api/patients/{patient_id}",
        parameters=[patient_id],
        operations={"get": {"summary": "A patient and their intake", "responses": {**_ok("The patient.", "PatientOut"), **_errors("NotFound")}}},
    )
    spec.path(
        path="/api/patients/{patient_id}/intake",
        parameters=[patient_id],
        operations={
            "post": _with_body(
                schemas.IntakeIn,
                "Record an intake assessment done elsewhere",
                {**_ok("Recorded.", "IntakeOut", "201"), **_errors("NotFound", *BODY_ERRORS)},
            )
        },
    )
    spec.path(
        path="/api/availability",
        operations={
            "get": {
                "summary": "Start times a booking would accept",
                "parameters": [{"in": "query", "schema": schemas.AvailabilityQuery}],
                "responses": {**_ok("Open starts.", "AvailabilityOut"), **_errors("Unprocessable")},
            }
        },
    )
    spec.path(
        path="/api/sessions",
        operations={
            "get": {
                "summary": "Sessions starting in a window",
                "parameters": [{"in": "query", "schema": schemas.WindowQuery}],
                "responses": {**_ok("Sessions.", "SessionListOut"), **_errors("Unprocessable")},
            },
            "post": _with_body(
                schemas.SessionIn,
                "Book a session",
                {**_created("Booked.", "SessionOut", replayable=True), **_errors("Refused", *BODY_ERRORS)},
                parameters=[IDEMPOTENCY_KEY],
            ),
        },
    )
    session_id = {"in": "path", "name": "session_id", **ID_PARAMETER}
    spec.path(
        path="/api/sessions/{session_id}",
        parameters=[session_id],
        operations={"get": {"summary": "A session", "responses": {**_ok("The session.", "SessionOut"), **_errors("NotFound")}}},
    )
    spec.path(
        path="/api/sessions/{session_id}.ics",
        parameters=[session_id],
        operations={
            "get": {
                "summary": "The patient's calendar entry, from arrival to pickup",
                "responses": {
                    "200": {"description": "An iCalendar file.", "content": {"text/calendar": {"schema": {"type": "string"}}}},
                    **_errors("NotFound"),
                },
            }
        },
    )
    steps = {
        "reschedule": _session_step("Move the session", schemas.RescheduleIn),
        "cancel": _session_step("Cancel, with a reason", schemas.CancelIn),
        "check-in": _session_step("The patient arrived"),
        "start-treatment": _session_step("Treatment started"),
        "discharge": _session_step("The clinician released the patient", schemas.DischargeIn, body_required=False),
        "no-show": _session_step("The patient did not come"),
    }
    for step, operations in steps.items():
        spec.path(path=f"/api/sessions/{{session_id}}/{step}", parameters=[session_id], operations=operations)
    spec.path(
        path="/api/series",
        operations={
            "post": _with_body(
                schemas.SeriesIn,
                "Book an induction series, all or nothing",
                {
                    **_created("Every session booked.", "SeriesOut", replayable=True),
                    **_errors(*BODY_ERRORS),
                    "409": {
                        "description": "Not booked: a clinic rule refused, or (`series_not_placeable`) not every "
                        "session fits; then the sessions that fit and the nearest alternatives for the rest.",
                        "content": _json({"oneOf": [_ref("RefusalOut"), _ref("SeriesRefusalOut")]}),
                    },
                },
                parameters=[IDEMPOTENCY_KEY],
            )
        },
    )
    spec.path(
        path="/api/series/{series_id}",
        parameters=[{"in": "path", "name": "series_id", **ID_PARAMETER}],
        operations={"get": {"summary": "A series and its sessions", "responses": {**_ok("The series.", "SeriesOut"), **_errors("NotFound")}}},
    )
    return _strict_responses(spec.to_dict())


def _strict_responses(document: dict) -> dict:
    """What apispec leaves loose for OpenAPI 3.0: every field of a response is always written (marshmallow dumps
    each declared field), and a nullable nested schema is that schema or null, not any object."""
    for name, schema in document["components"]["schemas"].items():
        if name.endswith("Out"):
            schema["required"] = sorted(schema["properties"])
        for field in schema["properties"].values():
            for choice in field.get("anyOf", ()):
                if choice == {"type": "object", "nullable": True}:
                    choice["enum"] = [None]
    return document
