"""The escort's page through a real HTTP server, and the at-risk worker across a restart, on SQLite and PostgreSQL:
GET and HEAD change nothing, one POST confirms, a second says used; tampered, replaced and tokenless answers change
nothing; a threshold that passes while transport is down fires once after it starts again."""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from integration.helpers import CLOSED_PORT_URL, eventually, session_booked
from sqlalchemy import func, select

from services.transport import SERVICE_NAME, handlers
from services.transport.adapters import tables
from services.transport.adapters.scheduler_directory import ClinicFacts
from services.transport.adapters.unit_of_work import TransportUnitOfWork
from services.transport.at_risk_worker import fire_due_checks
from services.transport.bootstrap import bootstrap
from services.transport.domain.rides import RideStatus
from services.transport.settings import TransportSettings
from shared.contract import SESSION_RESCHEDULED, from_json, new_event, to_json
from shared.persistence import create_database_engine, utcnow
from shared.settings import Settings

pytestmark = pytest.mark.integration

TOKEN = "escort-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class SchedulerStandIn:
    def clinic(self) -> ClinicFacts:
        return ClinicFacts("Riverside Ketamine Clinic", ZoneInfo("America/New_York"), "1 Main Street, Springfield")

    def patient_first_name(self, patient_id: str) -> str | None:
        return "Ann"

    def dropoff_address(self, session_id: str) -> str:
        raise AssertionError("an escort ride needs no drop-off address")


def settings(database_url: str) -> Settings:
    return Settings(
        service=SERVICE_NAME,
        broker_url=CLOSED_PORT_URL,
        database_url=database_url,
        port=0,
        service_token=TOKEN,
        scheduler_url="http://127.0.0.1:1",
    )


@pytest.fixture
def served(database_url):
    runtime = bootstrap(
        settings(database_url),
        transport=TransportSettings(link_secret="escort-test-secret", public_url="http://public.example"),
        directory=SchedulerStandIn(),
    )
    # Only the HTTP server: no broker here, and the workers are not what these tests are about.
    runtime.workers = []
    runtime.start()
    engine = create_database_engine(database_url, schema=SERVICE_NAME)
    yield runtime, engine
    runtime.stop()
    engine.dispose()


def uow_of(engine) -> TransportUnitOfWork:
    return TransportUnitOfWork(engine, tables.messaging, SERVICE_NAME)


def outbox_types(engine) -> list[str]:
    outbox = tables.messaging.outbox
    with engine.connect() as connection:
        return list(connection.execute(select(outbox.c.routing_key).order_by(outbox.c.position)).scalars())


def book(engine, **overrides):
    event = from_json(to_json(session_booked(**overrides)))
    handlers.request_ride(event, uow=uow_of(engine), now=utcnow())
    [ride] = handlers.list_rides(session_id=event.data["session_id"], uow=uow_of(engine))
    return event, ride


def link(runtime, ride_id: str) -> str:
    base = f"http://127.0.0.1:{runtime.port}"
    answer = requests.get(f"{base}/api/rides/{ride_id}/escort-link", headers=AUTH, timeout=5)
    assert answer.status_code == 200, answer.text
    return base + answer.json()["url"].removeprefix("http://public.example")


def form_token(page: str) -> str:
    return re.search(r'name="form_token" value="([^"]+)"', page)[1]


def test_over_http_opening_the_link_changes_nothing_and_one_post_confirms_once(served):
    runtime, engine = served
    _, ride = book(engine)
    url = link(runtime, ride.id)

    pages = [requests.get(url, timeout=5) for _ in range(3)]
    head = requests.head(url, timeout=5)
    assert [p.status_code for p in pages] == [200, 200, 200] and head.status_code == 200
    assert head.content == b""
    assert pages[0].headers["Cache-Control"] == "no-store"
    assert handlers.get_ride(ride.id, uow=uow_of(engine)).status is RideStatus.REQUESTED
    assert outbox_types(engine) == ["ride.requested"]

    token = form_token(pages[0].text)
    first = requests.post(url, data={"action": "confirm", "form_token": token}, timeout=5)
    second = requests.post(url, data={"action": "confirm", "form_token": token}, timeout=5)

    assert (first.status_code, second.status_code) == (200, 410)
    assert "already used" in second.text
    assert handlers.get_ride(ride.id, uow=uow_of(engine)).status is RideStatus.CONFIRMED
    assert outbox_types(engine) == ["ride.requested", "ride.confirmed"]


def test_over_http_tampered_tokenless_and_replaced_answers_change_nothing(served):
    runtime, engine = served
    booking, ride = book(engine)
    url = link(runtime, ride.id)
    token = form_token(requests.get(url, timeout=5).text)

    assert requests.get(url[:-5], timeout=5).status_code == 404
    assert requests.post(url[:-5], data={"action": "confirm", "form_token": token}, timeout=5).status_code == 404
    assert requests.post(url, data={"action": "confirm"}, timeout=5).status_code == 400
    assert requests.post(url, data={"action": "confirm", "form_token": token[:-4]}, timeout=5).status_code == 403
    assert outbox_types(engine) == ["ride.requested"]

    starts_at = booking.data["starts_at"] + timedelta(days=1)
    moved = new_event(
        SESSION_RESCHEDULED,
        {
            "session_id": ride.session_id,
            "patient_id": ride.patient_id,
            "previous_starts_at": booking.data["starts_at"],
            "previous_recovery_ends_at": booking.data["recovery_ends_at"],
            "starts_at": starts_at,
            "treatment_ends_at": starts_at + timedelta(minutes=45),
            "recovery_ends_at": starts_at + timedelta(minutes=90),
            "chair_id": "chair-1",
            "ride_home_mode": "escort",
        },
        correlation_id=ride.session_id,
    )
    handlers.reschedule_rides(from_json(to_json(moved.stamped_by("scheduler"))), uow=uow_of(engine), now=utcnow())

    replaced = requests.post(url, data={"action": "confirm", "form_token": token}, timeout=5)
    assert replaced.status_code == 410 and "replaced" in replaced.text
    assert handlers.get_ride(ride.id, uow=uow_of(engine)).status is RideStatus.REQUESTED
    assert outbox_types(engine) == ["ride.requested", "ride.rescheduled"]


def test_a_threshold_that_passes_while_transport_is_down_fires_once_after_the_restart(database_url):
    start = datetime.now(UTC) + timedelta(hours=26)
    first = bootstrap(settings(database_url), directory=SchedulerStandIn())
    engine = create_database_engine(database_url, schema=SERVICE_NAME)
    booking = from_json(to_json(session_booked(starts_at=start, recovery_ends_at=start + timedelta(minutes=90))))
    handlers.request_ride(booking, uow=uow_of(engine), now=utcnow())
    assert fire_due_checks(uow=uow_of(engine), now=utcnow()) == 0  # nothing due yet; the first process stops here
    del first

    # Three hours later transport starts again, its worker running: the 24h threshold passed meanwhile.
    later = lambda: datetime.now(UTC) + timedelta(hours=3)  # noqa: E731
    restarted = bootstrap(settings(database_url), directory=SchedulerStandIn(), clock=later, at_risk_poll_interval=0.1)
    restarted.workers = [w for w in restarted.workers if type(w).__name__ == "AtRiskWorker"]
    restarted.start()
    try:
        eventually(lambda: "ride.at_risk" in outbox_types(engine), what="the 24h threshold firing after the restart")
        assert fire_due_checks(uow=uow_of(engine), now=later()) == 0
    finally:
        restarted.stop()

    outbox = tables.messaging.outbox
    with engine.connect() as connection:
        bodies = list(connection.execute(select(outbox.c.body).where(outbox.c.routing_key == "ride.at_risk")).scalars())
        fired = connection.execute(
            select(func.count()).select_from(tables.at_risk_checks).where(tables.at_risk_checks.c.fired)
        ).scalar_one()
    assert [from_json(body).data["at_risk"] for body in bodies] == ["24h"]
    assert from_json(bodies[0]).data["session_starts_at"] == start
    assert fired == 1
    engine.dispose()
