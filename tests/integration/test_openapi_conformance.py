"""The scheduler's OpenAPI document is right: schemathesis fuzzes every operation against the real app on SQLite and on
PostgreSQL, and every documented operation, called with a valid request, answers what the document promises; what the
document allows the server accepts (positive data), and what it refuses the server refuses (negative data)."""

import copy
import json
import re
from datetime import UTC, date, datetime, time

import jsonschema
import phonenumbers
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.definitions import OPENAPI_30

from services.notifications.bootstrap import bootstrap as notifications_bootstrap
from services.scheduler.adapters.clinic_config import load_clinic
from services.scheduler.api.openapi import build_openapi
from services.scheduler.bootstrap import bootstrap
from services.transport.bootstrap import bootstrap as transport_bootstrap
from shared.settings import Settings
from shared.web.reference import DOCS_PATH

pytestmark = pytest.mark.integration

TOKEN = "openapi-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # Tuesday 07:00 in New York
TWO_DAYS_EARLIER = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
# The floor's morning: the sessions of the day are prepared at their own times, and the fuzzing then runs at 09:40,
# within 30 minutes of a checked-in patient's 10:00 start (treatment may start at most that early).
EIGHT = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)
TWENTY_TO_TEN = datetime(2026, 12, 1, 14, 40, tzinfo=UTC)
CLINIC = load_clinic()
ESCORT = {"mode": "escort", "escort_name": "Bo Lee", "escort_phone": "+14155550124"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}
# The document and its reference page describe the API; they are served beside it and are not its operations.
DOCUMENT_PATH = "/api/openapi.json"
FUZZ_CONFIG = {
    "headers": AUTH,
    "generation": {"max-examples": 40, "mode": "all"},
    "phases": {
        "examples": {"enabled": True},
        "coverage": {"enabled": True},
        "fuzzing": {"enabled": True},
        "stateful": {"enabled": False},
    },
}


# Rules that a JSON Schema cannot state, each in an operation's description: they compare two fields, or a field with
# the clock, stored records or the clinic's calendar. A 422 of valid data is explained only if every error is one of
# these, on its field.
RULES_BEYOND_THE_SCHEMA = {
    "to": ["Give a 'to' after 'from'.", "Ask for at most 62 days at a time.", r"List at most \d+ days at a time\."],
    "email": ["An e-mail address is needed to reach the patient by e-mail."],
    "completed_at": ["An intake is recorded once it is done, not ahead of time."],
    "discharged_at": [
        "A discharge is recorded when it happens, not ahead of time.",
        "A patient cannot be discharged before treatment started.",
    ],
    "patient_id": ["No patient has this id."],
    "count": ["At most one session a day: the count cannot exceed within_days."],
    "ride_home": [r".* needs a confirmed ride home: nobody may drive after treatment\."],
    **{
        name: [
            "Sessions can only be booked in the future.",
            r".* can be booked at most \d+ days ahead\.",
            r"Sessions start on the clinic's \d+-minute grid, in clinic time\.",
        ]
        for name in ("starts_at", "first_starts_at")
    },
}
# The range of an instant is judged in UTC; the document's pattern can only say which years may be written, and
# 1999, 2000, 2999 and 3000 written in some offset fall outside it.
OUT_OF_RANGE = "Give a time between the years 2000 and 2999 (in UTC)."
BOUNDARY_YEARS = ("1999-", "2000-", "2999-", "3000-")


def explained_by_a_rule_beyond_the_schema(case, response) -> bool:
    if response.status_code != 422:
        return False
    given = {**(case.query or {}), **(case.body if isinstance(case.body, dict) else {})}
    for field, messages in response.json().get("errors", {}).items():
        if not isinstance(messages, list):  # a nested schema's errors: none of these rules is nested
            return False
        for message in messages:
            if message == OUT_OF_RANGE and str(given.get(field, "")).startswith(BOUNDARY_YEARS):
                continue
            if not any(re.fullmatch(rule, message) for rule in RULES_BEYOND_THE_SCHEMA.get(field, ())):
                return False
    return True


def valid_data_accepted(ctx, response, case):
    """schemathesis' positive_data_acceptance, except for a 422 that names only rules beyond the schema."""
    if explained_by_a_rule_beyond_the_schema(case, response):
        return None
    return positive_data_acceptance(ctx, response, case)


def phone_numbers():
    """The document's ``e164`` format: a number of a country's numbering plan, as no pattern can say."""
    regions = sorted(phonenumbers.SUPPORTED_REGIONS)
    examples = [phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE) for region in regions]
    return st.sampled_from(
        [phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164) for n in examples if n is not None]
    )


schemathesis.openapi.format("e164", phone_numbers())


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def build_scheduler(database_url: str, clock: Clock):
    settings = Settings(
        service="scheduler",
        broker_url="memory://",
        database_url=database_url,
        port=0,
        service_token=TOKEN,
        scheduler_url="http://127.0.0.1:0",
    )
    return bootstrap(settings, clinic=CLINIC, clock=clock).app


def served_document(app) -> dict:
    response = app.test_client().get(DOCUMENT_PATH)
    assert response.status_code == 200
    return response.get_json()


def load_schema(app, document: dict):
    schema = schemathesis.openapi.from_dict(document, config=schemathesis.Config.from_dict(FUZZ_CONFIG))
    schema.app = app
    return schema


def documented_operations(document: dict) -> set[tuple[str, str]]:
    return {
        (method.upper(), path) for path, item in document["paths"].items() for method in item if method in HTTP_METHODS
    }


class Api:
    """Calls operations through schemathesis, so every answer is validated against the document as it is sent."""

    def __init__(self, schema, clock: Clock):
        self.schema = schema
        self.clock = clock
        self.answered: set[tuple[str, str]] = set()
        self.created: dict[str, list[str]] = {"patient_id": [], "session_id": [], "series_id": []}

    def call(self, method, path, status, *, path_parameters=None, query=None, body=NOT_SET, headers=None, **raw):
        case = self.schema[path][method].Case(
            path_parameters=path_parameters, query=query, body=body, headers={**AUTH, **(headers or {})}
        )
        response = case.call(**raw)
        case.validate_response(response, checks=CHECKS)
        assert response.status_code == status, response.text
        self.answered.add((method, path))
        return response

    def register(self, name: str, *, intake: bool) -> str:
        body = {"name": name, "phone": "+14155550123", "email": "p@example.org", "preferred_channel": "email"}
        patient_id = self.call("POST", "/api/patients", 201, body=body).json()["id"]
        self.created["patient_id"].append(patient_id)
        if intake:
            self.call(
                "POST",
                "/api/patients/{patient_id}/intake",
                201,
                path_parameters={"patient_id": patient_id},
                body={"completed_at": "2026-11-20T10:00:00-05:00", "recorded_by": "Dr. Patel"},
            )
        return patient_id

    def book(self, patient_id: str, treatment_type: str, starts_at: str, *, headers=None, **extra) -> str:
        body = {"patient_id": patient_id, "treatment_type": treatment_type, "starts_at": starts_at, **extra}
        session_id = self.call("POST", "/api/sessions", 201, body=body, headers=headers).json()["id"]
        self.created["session_id"].append(session_id)
        return session_id

    def step(self, step: str, session_id: str, status: int = 200, **kwargs) -> dict:
        path = f"/api/sessions/{{session_id}}/{step}"
        return self.call("POST", path, status, path_parameters={"session_id": session_id}, **kwargs).json()


def prepare_records(api: Api) -> dict[str, str | dict[str, str]]:
    """A record for every path parameter, each in the state in which its operation succeeds; by the operation's path."""
    api.clock.now = TWO_DAYS_EARLIER
    missed = api.book(api.register("Noor Haddad", intake=False), "intake_assessment", "2026-11-30T09:00:00-05:00")
    # Today's sessions, booked ahead: an intake at 08:00 (treated by 09:40), one at 10:00 (to start at 09:40), one at
    # noon (to check in) and an infusion at 13:00 (checked in, its vitals before the infusion to be marked).
    treated = api.book(api.register("Eve Park", intake=False), "intake_assessment", "2026-12-01T08:00:00-05:00")
    arrived = api.book(api.register("Ola Berg", intake=False), "intake_assessment", "2026-12-01T10:00:00-05:00")
    arriving = api.book(api.register("Mia Chen", intake=False), "intake_assessment", "2026-12-01T12:00:00-05:00")
    monitored = api.book(
        api.register("Kai Sato", intake=True), "iv_infusion", "2026-12-01T13:00:00-05:00", ride_home=ESCORT
    )
    api.clock.now = NOW
    patient = api.register("Ann Lee", intake=True)
    booked = api.book(patient, "iv_infusion", "2026-12-02T09:00:00-05:00", ride_home=ESCORT, chair_id="chair-1")
    to_cancel = api.book(
        api.register("Raj Iyer", intake=True), "iv_infusion", "2026-12-03T09:00:00-05:00", ride_home=ESCORT
    )
    api.step("check-in", arrived)
    api.step("check-in", treated)
    api.step("check-in", monitored, body={"override_reason": "Escort confirmed by phone"})
    api.clock.now = EIGHT
    api.step("start-treatment", treated)
    api.clock.now = TWENTY_TO_TEN
    series = {
        "patient_id": api.register("Lu Wang", intake=True),
        "treatment_type": "iv_infusion",
        "first_starts_at": "2026-12-07T09:00:00-05:00",
        "count": 2,
        "within_days": 7,
        "ride_home": ESCORT,
    }
    booked_series = api.call("POST", "/api/series", 201, body=series).json()
    api.created["series_id"].append(booked_series["id"])
    api.created["session_id"] += [session["id"] for session in booked_series["sessions"]]
    return {
        "/api/patients/{patient_id}": patient,
        "/api/patients/{patient_id}/intake": patient,
        "/api/sessions/{session_id}": booked,
        "/api/sessions/{session_id}.ics": booked,
        "/api/sessions/{session_id}/reschedule": booked,
        "/api/sessions/{session_id}/cancel": to_cancel,
        "/api/sessions/{session_id}/check-in": arriving,
        "/api/sessions/{session_id}/start-treatment": arrived,
        "/api/sessions/{session_id}/discharge": treated,
        "/api/sessions/{session_id}/no-show": missed,
        "/api/sessions/{session_id}/checkpoints/{checkpoint_id}": {
            "session_id": monitored,
            "checkpoint_id": "vitals_before_infusion",
        },
        "/api/series/{series_id}": booked_series["id"],
    }


def with_path_examples(document: dict, records: dict[str, str | dict[str, str]]) -> dict:
    """The served document, with each path parameter's example pointing at a real record (by parameter, for a path
    with more than one)."""
    document = copy.deepcopy(document)
    for path, record in records.items():
        for parameter in document["paths"][path]["parameters"]:
            if parameter["in"] == "path":
                parameter["example"] = record[parameter["name"]] if isinstance(record, dict) else record
    return document


def clinic_times() -> list[str]:
    """Times around opening and closing on weekdays, a Saturday, a Sunday, Christmas and the first Monday after the
    spring-forward of 2027-03-14, written in the clinic's offset and in UTC; one off the slot grid."""
    days = [date(2026, 12, n) for n in (1, 2, 3, 4, 5, 6, 25)] + [date(2027, 3, 15)]
    times = []
    for day in days:
        for hour, minute in ((7, 45), (9, 0), (12, 15), (16, 45), (17, 30)):
            times.append(datetime.combine(day, time(hour, minute), CLINIC.time_zone).isoformat())
        nine = datetime.combine(day, time(9), CLINIC.time_zone).astimezone(UTC)
        times.append(nine.isoformat().replace("+00:00", "Z"))
    return [*times, "2026-12-02T09:07:00-05:00"]


def narrowed_to_the_clinic(document: dict, created: dict[str, list[str]]) -> dict:
    """The served document with every id, phone and time a request carries drawn from real records, the clinic's
    configuration and times near now, so that generated requests get past validation to the scheduling rules."""
    times = clinic_times()
    choices = {
        **created,
        "treatment_type": list(CLINIC.treatment_types),
        "chair_id": list(CLINIC.chairs),
        "clinician_id": [clinician.id for clinician in CLINIC.clinicians],
        "checkpoint_id": sorted({c.id for t in CLINIC.treatment_types.values() for c in t.checkpoints}),
        "phone": ["+14155550123", "+442079460958"],
        "escort_phone": ["+14155550124"],
        **{name: times for name in ("starts_at", "first_starts_at", "discharged_at", "completed_at", "from", "to")},
    }

    def narrowed(name: str, schema: dict) -> dict:
        if name not in choices:
            return schema
        values = [None, *choices[name]] if schema.get("nullable") else choices[name]
        return {"type": "string", "enum": values, "nullable": bool(schema.get("nullable"))}

    document = copy.deepcopy(document)
    for name, schema in document["components"]["schemas"].items():
        if not name.endswith("Out"):
            schema["properties"] = {field: narrowed(field, value) for field, value in schema["properties"].items()}
    for item in document["paths"].values():
        operations = [operation for method, operation in item.items() if method in HTTP_METHODS]
        for parameter in [
            *item.get("parameters", ()),
            *(p for operation in operations for p in operation.get("parameters", ())),
        ]:
            parameter["schema"] = narrowed(parameter["name"], parameter["schema"])
    return document


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def scheduler(database_url, clock, monkeypatch):
    monkeypatch.delenv("CLINIC_CONFIG", raising=False)
    return build_scheduler(database_url, clock)


@pytest.fixture
def api(scheduler, clock) -> Api:
    return Api(load_schema(scheduler, served_document(scheduler)), clock)


def _pytest_9_2_node_id(request) -> None:
    # schemathesis 4.32 renames the test item per operation through ``_nodeid``, which pytest 9.2 no longer has.
    request.node._nodeid = request.node.nodeid


@pytest.fixture
def served_schema(scheduler, api, request):
    """The served document, on a database holding a record for every path parameter, which its examples name."""
    _pytest_9_2_node_id(request)
    records = prepare_records(api)
    return load_schema(scheduler, with_path_examples(served_document(scheduler), records))


@pytest.fixture
def clinic_schema(scheduler, api, request):
    """The served document narrowed to the clinic's records, so that generated requests reach the scheduling rules."""
    _pytest_9_2_node_id(request)
    prepare_records(api)
    return load_schema(scheduler, narrowed_to_the_clinic(served_document(scheduler), api.created))


def assert_generated_request_answered_as_documented(case) -> None:
    response = case.call_and_validate(checks=[*CHECKS, negative_data_rejection, valid_data_accepted])

    if case._meta is None or not case._meta.generation.mode.is_negative:
        assert response.status_code != 401, "the bearer token was not sent"


# Times must start with a year the document allows: generated times are filtered to those, more than Hypothesis likes.
DOCUMENTED_YEARS_ONLY = settings(suppress_health_check=[HealthCheck.filter_too_much])


@schemathesis.pytest.from_fixture("served_schema").parametrize()
@DOCUMENTED_YEARS_ONLY
def test_every_operation_answers_generated_requests_as_documented(case):
    assert_generated_request_answered_as_documented(case)


@schemathesis.pytest.from_fixture("clinic_schema").parametrize()
@DOCUMENTED_YEARS_ONLY
def test_every_operation_answers_generated_requests_for_real_records_and_times_as_documented(case):
    assert_generated_request_answered_as_documented(case)


@pytest.fixture(params=["transport", "notifications"])
def other_service(request, database_url):
    settings = Settings(
        service=request.param,
        broker_url="memory://",
        database_url=database_url,
        port=0,
        service_token=TOKEN,
        scheduler_url="http://127.0.0.1:0",
    )
    build = {"transport": transport_bootstrap, "notifications": notifications_bootstrap}[request.param]
    return build(settings).app


@pytest.fixture
def other_schema(other_service, request):
    """Transport's or notifications' served document."""
    _pytest_9_2_node_id(request)
    return load_schema(other_service, served_document(other_service))


@schemathesis.pytest.from_fixture("other_schema").parametrize()
@DOCUMENTED_YEARS_ONLY
def test_transport_and_notifications_answer_generated_requests_as_documented(case):
    assert_generated_request_answered_as_documented(case)


def test_every_api_route_of_transport_and_notifications_is_documented(other_service):
    document = served_document(other_service)
    jsonschema.Draft4Validator(OPENAPI_30).validate(document)
    assert api_routes(other_service) == documented_operations(document)
    assert other_service.test_client().get(DOCS_PATH).status_code == 200


def test_every_documented_operation_answers_a_valid_request_with_a_documented_body(api):
    records = prepare_records(api)
    patient = {"patient_id": records["/api/patients/{patient_id}"]}
    booked = {"session_id": records["/api/sessions/{session_id}"]}
    window = {"from": "2026-12-01T00:00:00-05:00", "to": "2026-12-31T00:00:00-05:00"}

    api.call("GET", "/api/clinic", 200)
    assert api.call("GET", "/api/patients/{patient_id}", 200, path_parameters=patient).json()["intake"] is not None
    preferences = {"language": "es", "reminders_opt_out": True, "preferred_channel": "sms", "email": None}
    changed = api.call("PATCH", "/api/patients/{patient_id}", 200, path_parameters=patient, body=preferences).json()
    assert {name: changed[name] for name in preferences} == preferences
    slots = api.call("GET", "/api/availability", 200, query={"treatment_type": "iv_infusion", **window, **patient})
    assert slots.json()["slots"]
    assert len(api.call("GET", "/api/sessions", 200, query=window).json()["sessions"]) == 8
    api.call("GET", "/api/sessions/{session_id}", 200, path_parameters=booked)
    assert b"BEGIN:VCALENDAR" in api.call("GET", "/api/sessions/{session_id}.ics", 200, path_parameters=booked).content
    moved = api.step("reschedule", booked["session_id"], body={"starts_at": "2026-12-04T10:00:00-05:00"})
    assert moved["starts_at"] == "2026-12-04T10:00:00-05:00"
    cancelled = api.step(
        "cancel", records["/api/sessions/{session_id}/cancel"], body={"reason": "patient_unwell", "note": "Fever"}
    )
    assert cancelled["status"] == "cancelled"
    assert api.step("check-in", records["/api/sessions/{session_id}/check-in"])["status"] == "checked_in"
    assert (
        api.step("start-treatment", records["/api/sessions/{session_id}/start-treatment"])["status"] == "in_treatment"
    )
    assert api.step("discharge", records["/api/sessions/{session_id}/discharge"], body={})["status"] == "discharged"
    checkpoint = records["/api/sessions/{session_id}/checkpoints/{checkpoint_id}"]
    assert isinstance(checkpoint, dict)
    marked = api.call(
        "POST", "/api/sessions/{session_id}/checkpoints/{checkpoint_id}", 200, path_parameters=checkpoint
    ).json()
    assert marked["checkpoints"][0]["status"] == "done"
    assert api.step("no-show", records["/api/sessions/{session_id}/no-show"])["status"] == "no_show"
    series = api.call(
        "GET", "/api/series/{series_id}", 200, path_parameters={"series_id": records["/api/series/{series_id}"]}
    )
    assert len(series.json()["sessions"]) == 2
    # The ops page's JSON twin, on the in-memory broker: its dead-letter queues are empty.
    for figures in ("queues", "services", "overview"):
        api.call("GET", f"/api/ops/{figures}", 200)
    dead_letter_queue = {"queue": "transport.events.dlq"}
    assert api.call("GET", "/api/ops/dead-letters", 200, query=dead_letter_queue).json()["dead_letters"] == []
    api.call("POST", "/api/ops/dead-letters/replay", 200, body={**dead_letter_queue, "all": True})
    discarded = {**dead_letter_queue, "event_ids": ["event-1"], "reason": "Booked by a test"}
    assert api.call("POST", "/api/ops/dead-letters/discard", 200, body=discarded).json()["not_found"] == ["event-1"]

    assert api.answered == documented_operations(served_document(api.schema.app))


def test_a_replayed_booking_answers_with_the_documented_headers(api):
    patient = api.register("Ann Lee", intake=True)
    body = {
        "patient_id": patient,
        "treatment_type": "iv_infusion",
        "starts_at": "2026-12-02T09:00:00-05:00",
        "ride_home": ESCORT,
    }

    first = api.call("POST", "/api/sessions", 201, body=body, headers={"Idempotency-Key": "booking-1"})
    replay = api.call("POST", "/api/sessions", 201, body=body, headers={"Idempotency-Key": "booking-1"})

    assert "idempotent-replayed" not in first.headers  # schemathesis's responses: lowercase names, lists of values
    assert replay.headers["idempotent-replayed"] == ["true"]
    assert replay.headers["location"] == first.headers["location"] == [f"/api/sessions/{first.json()['id']}"]


def test_refusals_answer_with_the_documented_bodies(api):
    patient = api.register("Ann Lee", intake=True)
    newcomer = api.register("Ben Ode", intake=False)
    booking = {"treatment_type": "iv_infusion", "starts_at": "2026-12-02T09:00:00-05:00", "ride_home": ESCORT}
    series = {
        "patient_id": patient,
        "treatment_type": "iv_infusion",
        "count": 12,
        "within_days": 12,
        "ride_home": ESCORT,
    }

    refused = api.call("POST", "/api/sessions", 409, body={"patient_id": newcomer, **booking})
    unplaceable = api.call("POST", "/api/series", 409, body={**series, "first_starts_at": "2026-12-21T09:00:00-05:00"})
    invalid = api.call("POST", "/api/sessions", 422, body={"patient_id": patient, "treatment_type": "iv_infusion"})

    assert refused.json()["reason"] == "intake_required"
    assert unplaceable.json()["reason"] == "series_not_placeable" and unplaceable.json()["unplaced"]
    assert set(invalid.json()["errors"]) == {"starts_at"}


def test_refused_changes_of_contact_preferences_answer_with_the_documented_bodies(api):
    patient = {"patient_id": api.register("Ann Lee", intake=False)}
    path = "/api/patients/{patient_id}"

    unreachable = api.call("PATCH", path, 422, path_parameters=patient, body={"email": None})
    empty = api.call("PATCH", path, 422, path_parameters=patient, body={})
    unknown = api.call("PATCH", path, 404, path_parameters={"patient_id": "nobody"}, body={"language": "es"})

    assert unreachable.json() == {"errors": {"email": ["An e-mail address is needed to reach the patient by e-mail."]}}
    assert set(empty.json()["errors"]) == {"_schema"}
    assert set(unknown.json()["errors"]) == {"_request"}
    shown = api.call("GET", path, 200, path_parameters=patient).json()
    assert (shown["email"], shown["language"], shown["reminders_opt_out"]) == ("p@example.org", "en", False)


def test_the_patient_s_language_and_opt_out_are_documented_enums_and_a_change_names_at_least_one_field(scheduler):
    schemas = served_document(scheduler)["components"]["schemas"]

    for name in ("PatientIn", "PatientChangesIn", "PatientOut"):
        assert schemas[name]["properties"]["language"]["enum"] == ["en", "es"], name
        assert schemas[name]["properties"]["reminders_opt_out"]["type"] == "boolean", name
    assert schemas["PatientChangesIn"]["minProperties"] == 1
    assert schemas["PatientChangesIn"]["additionalProperties"] is False
    assert set(schemas["PatientChangesIn"]["properties"]) == {
        "preferred_channel",
        "language",
        "reminders_opt_out",
        "email",
        "phone",
    }


def test_the_ride_home_gate_and_provider_mode_answer_with_the_documented_bodies(api):
    provider = {"mode": "provider", "dropoff_address": "12 Elm Street, Apt 4, Jacksonville, FL 32204"}
    session = api.book(
        api.register("Ann Lee", intake=True), "iv_infusion", "2026-12-02T09:00:00-05:00", ride_home=provider
    )
    api.clock.now = datetime(2026, 12, 2, 13, 45, tzinfo=UTC)

    refused = api.step("check-in", session, 409)
    overridden = api.step("check-in", session, body={"override_reason": "Ride booked by phone"})

    assert refused["reason"] == "ride_not_confirmed"
    assert overridden["ride_home"]["dropoff_address"] == provider["dropoff_address"]
    assert (overridden["status"], overridden["ride_status"]) == ("checked_in", None)
    assert overridden["check_in_override_reason"] == "Ride booked by phone"
    assert api.call("GET", "/api/clinic", 200).json()["address"]


@pytest.mark.parametrize("character", ["\x00", "\ud800"], ids=["NUL", "lone surrogate"])
def test_text_no_database_can_store_is_refused_field_by_field(api, character):
    """JSON can carry both; PostgreSQL refuses NUL, and neither database can encode a lone surrogate."""
    patient = api.register("Ann Lee", intake=True)
    session = api.book(patient, "iv_infusion", "2026-12-02T09:00:00-05:00", ride_home=ESCORT)
    booking = {"patient_id": patient, "treatment_type": "iv_infusion", "starts_at": "2026-12-03T09:00:00-05:00"}
    escort = {**ESCORT, "escort_name": f"Bo{character}"}

    answers = {
        "name": api.call("POST", "/api/patients", 422, body={"name": f"Ann{character}", "phone": "+14155550123"}),
        "email": api.call(
            "POST",
            "/api/patients",
            422,
            body={"name": "Ann", "phone": "+14155550123", "email": f"a{character}@example.org"},
        ),
        "phone": api.call("POST", "/api/patients", 422, body={"name": "Ann", "phone": f"+1415555{character}0123"}),
        "recorded_by": api.call(
            "POST",
            "/api/patients/{patient_id}/intake",
            422,
            path_parameters={"patient_id": patient},
            body={"completed_at": "2026-11-20T10:00:00-05:00", "recorded_by": f"Dr{character}"},
        ),
        "ride_home": api.call("POST", "/api/sessions", 422, body={**booking, "ride_home": escort}),
        "patient_id": api.call("POST", "/api/sessions", 422, body={**booking, "patient_id": f"{patient}{character}"}),
        "note": api.step("cancel", session, 422, body={"reason": "other", "note": f"Fever{character}"}),
        "override_reason": api.step("check-in", session, 422, body={"override_reason": f"Taxi{character} booked"}),
    }
    provider = {"mode": "provider", "dropoff_address": f"12 Elm{character} Street"}
    refused = api.call("POST", "/api/sessions", 422, body={**booking, "ride_home": provider}).json()
    assert "dropoff_address" in refused["errors"]["ride_home"], refused

    for field, response in answers.items():
        body = response if isinstance(response, dict) else response.json()
        assert field in body["errors"], body


def test_a_body_nested_deeper_than_the_parser_goes_is_a_bad_request(api):
    nested = b"[" * 20_000 + b"]" * 20_000

    response = api.call("POST", "/api/series", 400, data=nested, headers={"Content-Type": "application/json"})

    assert response.json() == {"errors": {"_request": ["The body is nested too deeply."]}}


def test_the_served_document_is_valid_openapi_3_0_and_every_reference_resolves(scheduler):
    document = served_document(scheduler)

    jsonschema.Draft4Validator(OPENAPI_30).validate(document)
    references = re.findall(r'"\$ref": "#/([^"]+)"', json.dumps(document))
    for reference in references:
        node = document
        for part in reference.split("/"):
            assert part in node, f"#/{reference} does not resolve"
            node = node[part]
    assert references
    assert document == json.loads(json.dumps(build_openapi(scheduler, CLINIC)))


def test_every_api_route_is_documented_and_every_documented_path_exists(scheduler):
    assert api_routes(scheduler) == documented_operations(served_document(scheduler))


def api_routes(app) -> set[tuple[str, str]]:
    """Each (method, path) the app serves under /api, its path written as OpenAPI writes it (``{name}``)."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") and rule.rule != DOCUMENT_PATH and not rule.rule.startswith(DOCS_PATH):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            routes |= {(method, path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return routes
