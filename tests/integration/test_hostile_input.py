"""Hostile input on every route of the three services, on SQLite and on PostgreSQL: NUL bytes (PostgreSQL refuses
them in text), lone surrogates (no database can store them), bidirectional controls and invisible-only names, ids
that are too long, hold a line break or climb a path, and years 0001, 9999 and 1999-once-in-UTC; in paths, queries
and bodies. Each is a 4xx with field errors, never a 500, and changes no row of any service."""

import json
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from sqlalchemy import MetaData, Table, create_engine, func, inspect, select, table

from services.notifications.bootstrap import bootstrap as notifications_bootstrap
from services.scheduler.adapters.clinic_config import load_clinic
from services.scheduler.bootstrap import bootstrap as scheduler_bootstrap
from services.transport.bootstrap import bootstrap as transport_bootstrap
from shared.settings import Settings

pytestmark = pytest.mark.integration

TOKEN = "hostile-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # Tuesday 07:00 in New York
ESCORT = {"mode": "escort", "escort_name": "Bo Lee", "escort_phone": "+14155550124"}
PROVIDER = {"mode": "provider", "dropoff_address": "12 Elm Street, Apt 4, Jacksonville, FL 32204"}
STARTS_AT = "2027-01-05T09:00:00-05:00"

HOSTILE_TEXT = {
    "NUL": "Ann\x00Lee",
    "lone surrogate": "Ann\ud800Lee",
    "line break": "Ann\nLee",
    "C1 control": "Ann\x85Lee",
    "line separator": "Ann\u2028Lee",
}
HOSTILE_NAMES = {
    **HOSTILE_TEXT,
    "right-to-left override": "Ann \u202eeeL",
    "bidi isolate": "\u2067Ann\u2069",
    "invisible only": "\u200b\u200b",
    "Hangul filler only": "\u3164",
    "no letter": "1234",
}
HOSTILE_IDS = {
    "NUL": "patient\x00",
    "lone surrogate": "patient\ud800",
    "overlong": "p" * 65,
    "line break at the end": "patient-1\n",
    "CRLF inside": "patient\r\n1",
    "parent path": "../clinic",
    "slash": "a/b",
    "empty": "",
}
HOSTILE_TIMES = {
    "year 0001": "0001-01-01T00:00:00+00:00",
    "year 0001 in an offset": "0001-01-01T00:00:00+01:00",
    "year 9999": "9999-12-31T23:59:59-01:00",
    "1999 once in UTC": "2000-01-01T00:00:00+14:00",
    "NUL": "2027-01-05T09:00:00\x00-05:00",
}
# Raw percent-encoded forms, for paths and queries: what a client can put in a URL whatever the test client encodes.
HOSTILE_URL_IDS = {
    "NUL": "%00",
    "id then NUL": "session-1%00",
    "lone surrogate (WTF-8)": "%ED%A0%80",
    "invalid UTF-8": "%FF%FE",
    "line break at the end": "session-1%0A",
    "overlong": "s" * 65,
    "parent path": "..%2Fclinic",
    "right-to-left override": "%E2%80%AE1",
}


def settings(service: str, database_url: str) -> Settings:
    return Settings(
        service=service,
        broker_url="memory://",
        database_url=database_url,
        port=0,
        service_token=TOKEN,
        scheduler_url="http://127.0.0.1:1",
    )


def service_databases(database_url: str) -> dict[str, str]:
    """Each service's database: one SQLite file each, or one PostgreSQL database with a schema each."""
    if database_url.startswith("sqlite"):
        return {name: database_url.replace("service.sqlite3", f"{name}.sqlite3") for name in SERVICES}
    return {name: database_url for name in SERVICES}


SERVICES = ("scheduler", "transport", "notifications")


class Clinic:
    """The three services in-process on one database server, with a snapshot of every row they store."""

    def __init__(self, database_url: str):
        urls = service_databases(database_url)
        self.scheduler = scheduler_bootstrap(
            settings("scheduler", urls["scheduler"]), clinic=load_clinic(), clock=lambda: NOW
        )
        self.transport = transport_bootstrap(settings("transport", urls["transport"]))
        self.notifications = notifications_bootstrap(settings("notifications", urls["notifications"]))
        self.clients = {name: getattr(self, name).app.test_client() for name in SERVICES}
        self.engines = {name: create_engine(url) for name, url in urls.items()}
        self.schemas = {name: None if urls[name].startswith("sqlite") else name for name in SERVICES}

    def snapshot(self) -> dict:
        counts = {}
        for name, engine in self.engines.items():
            schema = self.schemas[name]
            with engine.connect() as connection:
                for table_name in inspect(connection).get_table_names(schema=schema):
                    query = select(func.count()).select_from(table(table_name, schema=schema))
                    counts[f"{name}.{table_name}"] = connection.execute(query).scalar_one()
        # A change of a patient's contact preferences keeps the count: the rows themselves must stay as they were.
        with self.engines["scheduler"].connect() as connection:
            patients = Table("patients", MetaData(), autoload_with=connection, schema=self.schemas["scheduler"])
            counts["scheduler.patients rows"] = sorted(map(tuple, connection.execute(select(patients)).all()))
        return counts

    def close(self) -> None:
        for engine in self.engines.values():
            engine.dispose()

    def call(self, service: str, method: str, path: str, body=None):
        client = self.clients[service]
        if body is None:
            return client.open(path, method=method, headers=AUTH)
        # ensure_ascii: a lone surrogate travels as the JSON escape \ud800, as a hostile client would send it.
        data = json.dumps(body, ensure_ascii=True)
        return client.open(path, method=method, headers=AUTH, data=data, content_type="application/json")


@pytest.fixture
def clinic(database_url):
    clinic = Clinic(database_url)
    yield clinic
    clinic.close()


@pytest.fixture
def records(clinic) -> dict[str, str]:
    """A patient with an intake and a booked session, so that routes that need one reach their bodies."""
    patient = clinic.call("scheduler", "POST", "/api/patients", {"name": "Ann Lee", "phone": "+14155550123"})
    assert patient.status_code == 201, patient.get_json()
    patient_id = patient.get_json()["id"]
    intake = {"completed_at": "2026-11-20T10:00:00-05:00", "recorded_by": "Dr. Patel"}
    assert clinic.call("scheduler", "POST", f"/api/patients/{patient_id}/intake", intake).status_code == 201
    booking = {"patient_id": patient_id, "treatment_type": "iv_infusion", "starts_at": STARTS_AT, "ride_home": ESCORT}
    session = clinic.call("scheduler", "POST", "/api/sessions", booking)
    assert session.status_code == 201, session.get_json()
    return {"patient_id": patient_id, "session_id": session.get_json()["id"]}


def assert_refused_without_change(clinic, subtests, label, service, method, path, body=None, *, field=None):
    with subtests.test(msg=label):
        before = clinic.snapshot()

        response = clinic.call(service, method, path, body)

        assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True))
        errors = response.get_json()["errors"]
        if field is not None:
            node = errors
            for part in field.split("."):
                assert part in node, errors
                node = node[part]
        assert clinic.snapshot() == before


def scheduler_paths(records: dict[str, str], hostile: str) -> list[tuple[str, str, dict | None]]:
    return [
        ("GET", f"/api/patients/{hostile}", None),
        ("PATCH", f"/api/patients/{hostile}", {"language": "es"}),
        (
            "POST",
            f"/api/patients/{hostile}/intake",
            {"completed_at": "2026-11-20T10:00:00-05:00", "recorded_by": "Dr. Xu"},
        ),
        ("GET", f"/api/sessions/{hostile}", None),
        ("GET", f"/api/sessions/{hostile}.ics", None),
        ("POST", f"/api/sessions/{hostile}/reschedule", {"starts_at": "2027-01-06T09:00:00-05:00"}),
        ("POST", f"/api/sessions/{hostile}/cancel", {"reason": "other"}),
        ("POST", f"/api/sessions/{hostile}/check-in", None),
        ("POST", f"/api/sessions/{hostile}/start-treatment", None),
        ("POST", f"/api/sessions/{hostile}/discharge", None),
        ("POST", f"/api/sessions/{hostile}/no-show", None),
        ("POST", f"/api/sessions/{hostile}/checkpoints/vitals_before_infusion", None),
        ("POST", f"/api/sessions/{records['session_id']}/checkpoints/{hostile}", None),
        ("GET", f"/api/series/{hostile}", None),
    ]


def test_hostile_ids_in_every_path_are_refused_and_change_nothing(clinic, records, subtests):
    for label, hostile in HOSTILE_URL_IDS.items():
        for method, path, body in scheduler_paths(records, hostile):
            assert_refused_without_change(
                clinic, subtests, f"{method} {path} ({label})", "scheduler", method, path, body
            )


def test_hostile_values_in_every_query_are_refused_field_by_field_and_change_nothing(clinic, records, subtests):
    window = "from=2027-01-05T00:00:00-05:00&to=2027-01-06T00:00:00-05:00"
    for label, hostile in HOSTILE_URL_IDS.items():
        queries = [
            ("transport", "/api/rides", f"session_id={hostile}", "session_id"),
            ("notifications", "/api/messages", f"session_id={hostile}", "session_id"),
            ("scheduler", "/api/availability", f"treatment_type={hostile}&{window}", "treatment_type"),
            (
                "scheduler",
                "/api/availability",
                f"treatment_type=iv_infusion&patient_id={hostile}&{window}",
                "patient_id",
            ),
            ("scheduler", "/api/availability", f"treatment_type=iv_infusion&chair_id={hostile}&{window}", "chair_id"),
            (
                "scheduler",
                "/api/availability",
                f"treatment_type=iv_infusion&clinician_id={hostile}&{window}",
                "clinician_id",
            ),
        ]
        for service, path, query, field in queries:
            url = f"{path}?{query}"
            assert_refused_without_change(clinic, subtests, f"{url} ({label})", service, "GET", url, field=field)
    for label, hostile in HOSTILE_TIMES.items():
        moment = quote(hostile, safe="")
        for path, query, field in [
            ("/api/sessions", f"from={moment}&to=2027-01-06T00:00:00-05:00", "from"),
            ("/api/sessions", f"from=2027-01-05T00:00:00-05:00&to={moment}", "to"),
            ("/api/availability", f"treatment_type=iv_infusion&from={moment}&to=2027-01-06T00:00:00-05:00", "from"),
        ]:
            url = f"{path}?{query}"
            assert_refused_without_change(clinic, subtests, f"{url} ({label})", "scheduler", "GET", url, field=field)


def scheduler_bodies(records: dict[str, str]) -> list[tuple[str, str, dict, str, dict]]:
    """Each route with a body: its method, path, a valid body, and for each kind of hostile value the fields to spoil."""
    patient, session = records["patient_id"], records["session_id"]
    booking = {
        "patient_id": patient,
        "treatment_type": "iv_infusion",
        "starts_at": "2027-01-06T09:00:00-05:00",
        "ride_home": ESCORT,
    }
    series = {**booking, "first_starts_at": "2027-01-11T09:00:00-05:00", "count": 2, "within_days": 7}
    del series["starts_at"]
    return [
        (
            "POST",
            "/api/patients",
            {"name": "Cy Park", "phone": "+14155550125", "email": "cy@example.org", "language": "es"},
            {"names": ["name"], "ids": ["language", "reminders_opt_out"], "times": [], "text": ["email", "phone"]},
        ),
        (
            "PATCH",
            f"/api/patients/{patient}",
            {
                "phone": "+14155550125",
                "email": "cy@example.org",
                "preferred_channel": "email",
                "language": "es",
                "reminders_opt_out": True,
            },
            {
                "names": [],
                "ids": ["preferred_channel", "language", "reminders_opt_out"],
                "times": [],
                "text": ["email", "phone"],
            },
        ),
        (
            "POST",
            f"/api/patients/{patient}/intake",
            {"completed_at": "2026-11-20T10:00:00-05:00", "recorded_by": "Dr. Xu"},
            {"names": ["recorded_by"], "ids": [], "times": ["completed_at"], "text": []},
        ),
        (
            "POST",
            "/api/sessions",
            booking,
            {
                "names": ["ride_home.escort_name"],
                "ids": ["patient_id", "treatment_type", "chair_id", "clinician_id"],
                "times": ["starts_at"],
                "text": ["ride_home.escort_phone"],
            },
        ),
        (
            "POST",
            "/api/series",
            series,
            {
                "names": ["ride_home.escort_name"],
                "ids": ["patient_id", "treatment_type"],
                "times": ["first_starts_at"],
                "text": ["ride_home.escort_phone"],
            },
        ),
        (
            "POST",
            f"/api/sessions/{session}/reschedule",
            {"starts_at": "2027-01-06T09:00:00-05:00"},
            {"names": [], "ids": ["chair_id", "clinician_id"], "times": ["starts_at"], "text": []},
        ),
        (
            "POST",
            f"/api/sessions/{session}/cancel",
            {"reason": "other", "note": "Fever"},
            {"names": [], "ids": ["reason"], "times": [], "text": ["note"]},
        ),
        (
            "POST",
            f"/api/sessions/{session}/discharge",
            {"discharged_at": "2026-12-01T06:00:00-05:00", "override_reason": "Patient fit, family waiting"},
            {"names": [], "ids": [], "times": ["discharged_at"], "text": ["override_reason"]},
        ),
        (
            "POST",
            f"/api/sessions/{session}/start-treatment",
            {"override_reason": "Vitals taken at check-in"},
            {"names": [], "ids": [], "times": [], "text": ["override_reason"]},
        ),
        (
            "POST",
            "/api/sessions",
            {**booking, "ride_home": PROVIDER},
            {"names": [], "ids": [], "times": [], "text": ["ride_home.dropoff_address"]},
        ),
        (
            "POST",
            "/api/series",
            {**series, "ride_home": PROVIDER},
            {"names": [], "ids": [], "times": [], "text": ["ride_home.dropoff_address"]},
        ),
        (
            "POST",
            f"/api/sessions/{session}/check-in",
            {"override_reason": "Ride booked by phone"},
            {"names": [], "ids": [], "times": [], "text": ["override_reason"]},
        ),
    ]


def spoiled(body: dict, field: str, value: str) -> dict:
    body = json.loads(json.dumps(body))
    *parents, name = field.split(".")
    node = body
    for parent in parents:
        node = node[parent]
    node[name] = value
    return body


def test_hostile_values_in_every_body_are_refused_field_by_field_and_change_nothing(clinic, records, subtests):
    hostile_by_kind = {"names": HOSTILE_NAMES, "ids": HOSTILE_IDS, "times": HOSTILE_TIMES, "text": HOSTILE_TEXT}
    for method, path, body, fields_by_kind in scheduler_bodies(records):
        for kind, fields in fields_by_kind.items():
            for field in fields:
                for label, value in hostile_by_kind[kind].items():
                    assert_refused_without_change(
                        clinic,
                        subtests,
                        f"{method} {path} {field} ({label})",
                        "scheduler",
                        method,
                        path,
                        spoiled(body, field, value),
                        field=field,
                    )


# --- transport: escort links and the ride provider's webhooks, outside /api ---------------------------------------


def transport_ride(clinic) -> tuple[str, str]:
    """An escort ride in transport's own database, and the link the API hands out for it."""
    from services.transport import handlers as transport_handlers
    from services.transport.adapters import tables as transport_tables
    from services.transport.adapters.unit_of_work import TransportUnitOfWork
    from shared.contract import SESSION_BOOKED, from_json, new_event, to_json
    from shared.persistence import create_database_engine

    engine = create_database_engine(clinic.engines["transport"].url, schema="transport")
    starts_at = datetime(2027, 1, 5, 14, 0, tzinfo=UTC)
    data = {
        "session_id": "hostile-session",
        "patient_id": "hostile-patient",
        "treatment_type": "iv_infusion",
        "starts_at": starts_at,
        "treatment_ends_at": starts_at.replace(hour=15),
        "recovery_ends_at": starts_at.replace(hour=16),
        "chair_id": "chair-1",
        "ride_home_mode": "escort",
    }
    event = from_json(
        to_json(new_event(SESSION_BOOKED, data, correlation_id="hostile-session").stamped_by("scheduler"))
    )
    uow = TransportUnitOfWork(engine, transport_tables.messaging, "transport")
    transport_handlers.request_ride(event, uow=uow, now=NOW)
    [ride] = transport_handlers.list_rides(session_id="hostile-session", uow=uow)
    engine.dispose()
    link = clinic.call("transport", "GET", f"/api/rides/{ride.id}/escort-link")
    assert link.status_code == 200, link.get_json()
    return ride.id, "/" + link.get_json()["url"].split("/", 3)[3]


def test_hostile_ride_ids_and_days_in_transport_s_api_are_refused_and_change_nothing(clinic, subtests):
    for label, hostile in HOSTILE_URL_IDS.items():
        path = f"/api/rides/{hostile}/escort-link"
        assert_refused_without_change(clinic, subtests, f"GET {path} ({label})", "transport", "GET", path)
    for label, day in {
        **HOSTILE_URL_IDS,
        "year 0001": "0001-01-01",
        "year 9999": "9999-12-31",
        "no day": "2027-02-30",
    }.items():
        url = f"/api/rides?date={day}"
        assert_refused_without_change(clinic, subtests, f"{url} ({label})", "transport", "GET", url, field="date")


def test_forged_truncated_and_tokenless_escort_answers_are_refused_and_change_nothing(clinic, subtests):
    from services.transport.adapters.escort_tokens import EscortTokens
    from services.transport.settings import DEVELOPMENT_LINK_SECRET

    _, link = transport_ride(clinic)
    client = clinic.clients["transport"]
    token = link.rsplit("/", 1)[1]
    # What the page would hold (it is not shown here: this clinic's scheduler is not reachable).
    tokens = EscortTokens(DEVELOPMENT_LINK_SECRET)
    form_token = tokens.form_token(tokens.read_link(token))
    forged_links = {
        "truncated": link[:-6],
        "one letter changed": link[:-1] + ("A" if link[-1] != "A" else "B"),
        "another secret": "/rides/escort/" + EscortTokens("another-secret").link_token("ride-1", 1),
        "NUL": "/rides/escort/%00",
        "overlong": "/rides/escort/" + "a" * 5000,
        "form token as a link": "/rides/escort/" + form_token,
    }
    answers = {
        "no form token": {"action": "confirm"},
        "empty form token": {"action": "confirm", "form_token": ""},
        "truncated form token": {"action": "confirm", "form_token": form_token[:-3]},
        "link token as form token": {"action": "confirm", "form_token": token},
        "NUL action": {"action": "confirm\x00", "form_token": form_token},
        "unknown action": {"action": "maybe", "form_token": form_token},
    }
    for label, path in forged_links.items():
        for method in ("GET", "HEAD", "POST"):
            with subtests.test(msg=f"{method} forged link ({label})"):
                before = clinic.snapshot()
                response = client.open(path, method=method, data={"action": "confirm", "form_token": form_token})
                assert 400 <= response.status_code < 500, response.status_code
                assert clinic.snapshot() == before
    for label, form in answers.items():
        with subtests.test(msg=f"POST with {label}"):
            before = clinic.snapshot()
            response = client.post(link, data=form)
            assert response.status_code in (400, 403), response.status_code
            assert clinic.snapshot() == before


def test_hostile_unsigned_replayed_and_malformed_webhooks_are_refused_and_change_nothing(clinic, subtests, caplog):
    from services.transport.adapters.webhook_signatures import sign
    from services.transport.settings import DEVELOPMENT_WEBHOOK_SECRET

    ride_id, _ = transport_ride(clinic)
    client = clinic.clients["transport"]
    now = int(datetime.now(UTC).timestamp())
    marker = "Ann Lee, 22 Elm Road"

    def body(**changes) -> bytes:
        document = {
            "id": "wh-hostile",
            "type": "ride.cancelled",
            "occurred_at": "2027-01-05T10:00:00-05:00",
            "ride": {"id": "pr-1", "reference": ride_id, "status": "cancelled", "note": marker},
        }
        document.update(changes)
        return json.dumps(document, ensure_ascii=True).encode()

    good = body()
    cases = {
        "unsigned": (good, {}),
        "bad signature": (good, sign(good, "not-the-secret", webhook_id="wh-hostile", timestamp=now)),
        "replayed an hour later": (
            good,
            sign(good, DEVELOPMENT_WEBHOOK_SECRET, webhook_id="wh-hostile", timestamp=now - 3600),
        ),
        "signed for another body": (
            body(type="ride.completed"),
            sign(good, DEVELOPMENT_WEBHOOK_SECRET, webhook_id="wh-hostile", timestamp=now),
        ),
    }
    for label, raw in {
        "not JSON": b"\x00\xff" + marker.encode(),
        "a list": b"[]",
        "NUL in the type": body(type="ride.cancelled\x00"),
        "lone surrogate in the reference": body(ride={"id": "pr-1", "reference": "\ud800", "status": "cancelled"}),
        "hostile reference": body(ride={"id": "pr-1", "reference": "../clinic", "status": "cancelled"}),
        "no ride": body(ride=None),
        "naive time": body(occurred_at="2027-01-05T10:00:00"),
        "deeply nested": b'{"id": "wh-hostile", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        "id unlike its header": body(id="wh-other"),
    }.items():
        cases[label] = (raw, sign(raw, DEVELOPMENT_WEBHOOK_SECRET, webhook_id="wh-hostile", timestamp=now))
    for label, (raw, headers) in cases.items():
        with subtests.test(msg=f"webhook: {label}"):
            before = clinic.snapshot()
            response = client.post(
                "/webhooks/ride-provider", data=raw, headers=headers, content_type="application/json"
            )
            assert response.status_code in (400, 401), (response.status_code, response.get_data(as_text=True))
            assert "errors" in response.get_json()
            assert clinic.snapshot() == before
    assert marker not in caplog.text and "Elm Road" not in caplog.text
