"""The scheduler's OpenAPI document: derived from its routes (each described beside it in http.py) and schemas, with
the ids its clinic configuration knows as enums."""

from flask import Flask

from shared.web.openapi import build_document, json_content

from ..domain.clinic import Clinic
from . import schemas
from .ops import ONE_SELECTION, SELECTION_SCHEMAS

REFUSED = 409
# Refusals by a clinic rule, by reason; listed in the description because a reason is a value, not a schema.
REFUSED_RESPONSE = {
    "description": "A clinic rule refused the request; `reason` says which (for example `intake_required`, "
    "`patient_overlap`, `no_chair_available`, `concurrent_change`).",
    "content": json_content("RefusalOut"),
}
IDEMPOTENCY_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "Retrying with the same key and body books once and answers with the first booking.",
    "schema": {"type": "string", "pattern": "^[ -~]{1,255}$"},
}
LOCATION = {"description": "Where the new record can be read.", "required": True, "schema": {"type": "string"}}
REPLAYED = {
    "description": "`true` when an Idempotency-Key was seen before: nothing new was booked.",
    "schema": {"type": "string", "enum": ["true"]},
}
CREATED_HEADERS = {"Location": LOCATION}
BOOKED_HEADERS = {"Location": LOCATION, "Idempotent-Replayed": REPLAYED}
# The rules a request can break that depend on the clock, on stored records or on the clinic's calendar, and so are
# not in the JSON Schema of a field: a 422 names the field.
SCHEDULING_RULES = (
    "A start must be in the future, within the treatment type's booking horizon and on the clinic's slot grid "
    "(422 on the start); the patient must exist (422 on `patient_id`); a treatment that needs a ride home needs "
    "`ride_home` (422)."
)
DESCRIPTION = (
    "Books ketamine-treatment sessions with their recovery buffers. Every time is written with the clinic's UTC "
    "offset; every time given must carry an offset and fall between the years 2000 and 2999 once in UTC. "
    "Every route wants `Authorization: Bearer <SERVICE_TOKEN>`. The routes under /api/ops are the ops page's JSON "
    "twin: the queues, the services, the overview with its alerts, and the dead letters (replayed or discarded, "
    "audited); a staff session needs the ops or admin role for them."
)
# Registered first, by name: apispec then refers to them instead of registering the nested schemas twice. The ride
# home's modes are named by the field that chooses between them, not nested, so they are registered here too.
REGISTERED_SCHEMAS = (
    "EscortRideHomeIn",
    "ProviderRideHomeIn",
    "PatientChangesIn",
    "RefusalOut",
    "ClinicOut",
    "IntakeOut",
    "PatientOut",
    "SessionOut",
    "SessionListOut",
    "AvailabilityOut",
    "SeriesOut",
    "SeriesRefusalOut",
)


def build_openapi(app: Flask, clinic: Clinic) -> dict:
    document = build_document(
        app,
        title="Scheduler API",
        description=DESCRIPTION,
        schemas={name: getattr(schemas, name) for name in REGISTERED_SCHEMAS},
        components={"Refused": REFUSED_RESPONSE},
    )
    # A change names at least one field, as the schema of its body says (apispec has no word for it).
    document["components"]["schemas"]["PatientChangesIn"]["minProperties"] = 1
    # A dead-letter action names its letters by event id or takes them all: one of the two, never both.
    for name in SELECTION_SCHEMAS:
        if name in document["components"]["schemas"]:
            document["components"]["schemas"][name].update(ONE_SELECTION)
    return _with_clinic_ids(document, clinic)


def _with_clinic_ids(document: dict, clinic: Clinic) -> dict:
    """Requests naming a treatment type, chair or clinician may name only the configured ones: say which."""
    known = {
        "treatment_type": sorted(clinic.treatment_types),
        "chair_id": list(clinic.chairs),
        "clinician_id": [clinician.id for clinician in clinic.clinicians],
    }
    request_fields = [
        schema["properties"] for name, schema in document["components"]["schemas"].items() if not name.endswith("Out")
    ]
    query_fields = [
        {
            parameter["name"]: parameter["schema"]
            for parameter in operation.get("parameters", ())
            if parameter["in"] == "query"
        }
        for item in document["paths"].values()
        for method, operation in item.items()
        if method != "parameters"
    ]
    for properties in [*request_fields, *query_fields]:
        for name, values in known.items():
            if name in properties:
                nullable = properties[name].get("nullable", False)
                properties[name]["enum"] = [*values, None] if nullable else list(values)
    return document
