"""The transport's use cases on the real database, SQLite and PostgreSQL: its migrations, and a ride from booking
through a reschedule to its dispatch at discharge, each event with one effect."""

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.config import Config
from integration.helpers import CLOSED_PORT_URL, session_booked
from sqlalchemy import Column, MetaData, Table, insert, inspect, select, text

from services.transport import SERVICE_NAME, handlers
from services.transport.adapters import tables
from services.transport.adapters.unit_of_work import TransportUnitOfWork
from services.transport.bootstrap import MIGRATIONS, bootstrap
from services.transport.domain.rides import RideStatus
from shared.contract import SESSION_DISCHARGED, SESSION_NO_SHOW, SESSION_RESCHEDULED, from_json, new_event, to_json
from shared.persistence import create_database_engine, upgrade_to_head
from shared.settings import Settings

pytestmark = pytest.mark.integration

TOKEN = "lifecycle-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = datetime.now(UTC).replace(microsecond=0)
# The rides table as revision 0001 left it, before there was a dispatched_at.
COLUMNS_OF_0001 = ("id", "session_id", "patient_id", "mode", "pickup_at", "status", "requested_at", "cancelled_at")
RIDES_OF_0001 = Table(
    "rides", MetaData(), *(Column(c.name, c.type) for c in tables.rides.columns if c.name in COLUMNS_OF_0001)
)
TABLES_OF_0003 = {"tombstones", "provider_requests", "at_risk_checks", "webhook_notices"}


@pytest.fixture
def engine(database_url):
    engine = create_database_engine(database_url, schema=SERVICE_NAME)
    yield engine
    engine.dispose()


@pytest.fixture
def migrated(engine):
    upgrade_to_head(engine, MIGRATIONS, schema=SERVICE_NAME)
    return engine


def migrate_to(engine, revision: str, *, step=command.upgrade) -> None:
    """What ``upgrade_to_head`` does, but stopping at ``revision``: a database as an older release left it."""
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{SERVICE_NAME}"')
        config.attributes["connection"] = connection
        step(config, revision)


def uow_of(engine) -> TransportUnitOfWork:
    return TransportUnitOfWork(engine, tables.messaging, SERVICE_NAME)


def through_the_contract(event):
    return from_json(to_json(event.stamped_by("scheduler")))


def booked(**overrides):
    return through_the_contract(session_booked(**overrides))


def rescheduled(booking, *, starts_at: datetime):
    data = booking.data
    return through_the_contract(
        new_event(
            SESSION_RESCHEDULED,
            {
                "session_id": data["session_id"],
                "patient_id": data["patient_id"],
                "previous_starts_at": data["starts_at"],
                "previous_recovery_ends_at": data["recovery_ends_at"],
                "starts_at": starts_at,
                "treatment_ends_at": starts_at + timedelta(minutes=45),
                "recovery_ends_at": starts_at + timedelta(minutes=90),
                "chair_id": "chair-2",
                "ride_home_mode": data["ride_home_mode"],
            },
            correlation_id=data["session_id"],
        )
    )


def discharged(booking, *, discharged_at: datetime, planned_recovery_ends_at: datetime | None = None):
    data = booking.data
    return through_the_contract(
        new_event(
            SESSION_DISCHARGED,
            {
                "session_id": data["session_id"],
                "patient_id": data["patient_id"],
                "discharged_at": discharged_at,
                "planned_recovery_ends_at": planned_recovery_ends_at or data["recovery_ends_at"],
                "ride_home_mode": data["ride_home_mode"],
            },
            correlation_id=data["session_id"],
        )
    )


def no_show(booking):
    data = booking.data
    return through_the_contract(
        new_event(
            SESSION_NO_SHOW,
            {
                "session_id": data["session_id"],
                "patient_id": data["patient_id"],
                "starts_at": data["starts_at"],
                "recorded_at": data["starts_at"] + timedelta(minutes=30),
            },
            correlation_id=data["session_id"],
        )
    )


def outbox_events(engine) -> list:
    outbox = tables.messaging.outbox
    with engine.connect() as connection:
        rows = connection.execute(select(outbox.c.routing_key, outbox.c.body).order_by(outbox.c.position)).all()
    events = [from_json(row.body) for row in rows]
    assert [row.routing_key for row in rows] == [event.type for event in events]
    return events


def processed_event_ids(engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(select(tables.messaging.processed_events.c.event_id)).scalars())


def test_the_migrations_bring_the_database_to_revision_0003_with_the_tables_of_the_ride_lifecycle(migrated):
    with migrated.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == ["0003"]
        columns = {column["name"]: column for column in inspect(connection).get_columns("rides")}
        table_names = set(inspect(connection).get_table_names())
    assert columns["dispatched_at"]["nullable"] is True
    assert columns["round"]["nullable"] is False
    assert set(columns) == {c.name for c in tables.rides.columns}
    assert TABLES_OF_0003 <= table_names
    for name in TABLES_OF_0003:
        with migrated.connect() as connection:
            stored = {column["name"] for column in inspect(connection).get_columns(name)}
        assert stored == {c.name for c in tables.metadata.tables[name].columns}, name


def test_the_migration_to_0003_can_be_undone_and_applied_again(migrated):
    migrate_to(migrated, "0002", step=command.downgrade)
    assert "round" not in rides_columns(migrated)
    with migrated.connect() as connection:
        assert not TABLES_OF_0003 & set(inspect(connection).get_table_names())

    upgrade_to_head(migrated, MIGRATIONS, schema=SERVICE_NAME)
    assert {"round", "session_starts_at", "provider_ride_id"} <= rides_columns(migrated)


def rides_columns(engine) -> set[str]:
    with engine.connect() as connection:
        return {column["name"] for column in inspect(connection).get_columns("rides")}


def test_the_migration_to_0002_can_be_undone_and_applied_again(migrated):
    migrate_to(migrated, "0001", step=command.downgrade)
    assert "dispatched_at" not in rides_columns(migrated)

    upgrade_to_head(migrated, MIGRATIONS, schema=SERVICE_NAME)
    assert "dispatched_at" in rides_columns(migrated)


def test_a_ride_stored_before_the_migration_is_read_and_dispatched_after_it(engine):
    migrate_to(engine, "0001")
    booking = booked()
    with engine.begin() as connection:
        connection.execute(
            insert(RIDES_OF_0001).values(
                id="ride-from-0001",
                session_id=booking.data["session_id"],
                patient_id=booking.data["patient_id"],
                mode="escort",
                pickup_at=booking.data["recovery_ends_at"],
                status="requested",
                requested_at=NOW,
            )
        )

    upgrade_to_head(engine, MIGRATIONS, schema=SERVICE_NAME)

    [ride] = handlers.list_rides(session_id=booking.data["session_id"], uow=uow_of(engine))
    assert (ride.id, ride.status, ride.dispatched_at) == ("ride-from-0001", RideStatus.REQUESTED, None)
    assert (ride.round, ride.session_starts_at) == (1, None)  # stored before the thresholds had a start to count from
    assert ride.pickup_at == booking.data["recovery_ends_at"]
    discharged_at = booking.data["recovery_ends_at"] - timedelta(minutes=10)
    handlers.dispatch_rides(discharged(booking, discharged_at=discharged_at), uow=uow_of(engine), now=NOW)
    [ride] = handlers.list_rides(session_id=booking.data["session_id"], uow=uow_of(engine))
    assert (ride.status, ride.pickup_at, ride.dispatched_at) == (RideStatus.DISPATCHED, discharged_at, NOW)


def test_a_rescheduled_then_discharged_session_has_its_ride_moved_then_dispatched_once(migrated, database_url):
    booking = booked()
    session_id = booking.data["session_id"]
    new_start = booking.data["starts_at"] + timedelta(days=2, hours=1)
    moved = rescheduled(booking, starts_at=new_start)
    released_at = new_start + timedelta(minutes=80)  # ten minutes before the recovery buffer was to end
    release = discharged(booking, discharged_at=released_at, planned_recovery_ends_at=new_start + timedelta(minutes=90))
    dispatched_at = released_at + timedelta(seconds=2)

    handlers.request_ride(booking, uow=uow_of(migrated), now=NOW)
    handlers.reschedule_rides(moved, uow=uow_of(migrated), now=NOW + timedelta(minutes=1))
    handlers.reschedule_rides(moved, uow=uow_of(migrated), now=NOW + timedelta(minutes=2))  # redelivered
    [ride] = handlers.list_rides(session_id=session_id, uow=uow_of(migrated))
    assert (ride.status, ride.pickup_at) == (RideStatus.REQUESTED, new_start + timedelta(minutes=90))

    handlers.dispatch_rides(release, uow=uow_of(migrated), now=dispatched_at)
    handlers.dispatch_rides(release, uow=uow_of(migrated), now=dispatched_at + timedelta(minutes=1))  # redelivered
    late_copy = discharged(booking, discharged_at=released_at + timedelta(minutes=5))  # another event id
    handlers.dispatch_rides(late_copy, uow=uow_of(migrated), now=dispatched_at + timedelta(minutes=5))

    [ride] = handlers.list_rides(session_id=session_id, uow=uow_of(migrated))
    assert ride.status is RideStatus.DISPATCHED
    assert ride.pickup_at == released_at
    assert ride.dispatched_at == dispatched_at
    assert ride.cancelled_at is None
    events = outbox_events(migrated)
    assert [e.type for e in events] == ["ride.requested", "ride.rescheduled", "ride.dispatched"]
    assert [e.data["pickup_at"] for e in events] == [
        booking.data["recovery_ends_at"],
        new_start + timedelta(minutes=90),
        released_at,
    ]
    assert [e.data["status"] for e in events] == ["requested", "requested", "dispatched"]
    assert {e.data["ride_id"] for e in events} == {ride.id}
    assert {e.correlation_id for e in events} == {session_id}
    assert {e.producer for e in events} == {"transport"}
    assert all(
        {name for name, value in e.data.items() if value is not None}
        == {"ride_id", "session_id", "pickup_at", "mode", "status", "patient_id", "session_starts_at"}
        for e in events
    )
    assert [e.data["session_starts_at"] for e in events] == [booking.data["starts_at"], new_start, new_start]
    assert processed_event_ids(migrated) == {booking.event_id, moved.event_id, release.event_id, late_copy.event_id}

    # The API shows the dispatch; starting the service again on this database migrates nothing more.
    runtime = bootstrap(
        Settings(
            service=SERVICE_NAME,
            broker_url=CLOSED_PORT_URL,
            database_url=database_url,
            port=0,
            service_token=TOKEN,
            scheduler_url="http://127.0.0.1:1",
        )
    )
    response = runtime.app.test_client().get("/api/rides", query_string={"session_id": session_id}, headers=AUTH)
    assert response.status_code == 200, response.get_data(as_text=True)
    [shown] = response.get_json()["rides"]
    assert shown["status"] == "dispatched"
    assert datetime.fromisoformat(shown["pickup_at"]) == released_at
    assert datetime.fromisoformat(shown["dispatched_at"]) == dispatched_at
    assert shown["cancelled_at"] is None


def test_a_no_show_cancels_the_ride_and_a_later_discharge_does_not_dispatch_it(migrated):
    booking = booked()
    session_id = booking.data["session_id"]
    handlers.request_ride(booking, uow=uow_of(migrated), now=NOW)

    handlers.cancel_rides(no_show(booking), uow=uow_of(migrated), now=NOW + timedelta(minutes=1))
    handlers.dispatch_rides(
        discharged(booking, discharged_at=booking.data["recovery_ends_at"]),
        uow=uow_of(migrated),
        now=NOW + timedelta(minutes=2),
    )

    [ride] = handlers.list_rides(session_id=session_id, uow=uow_of(migrated))
    assert ride.status is RideStatus.CANCELLED
    assert (ride.cancelled_at, ride.dispatched_at) == (NOW + timedelta(minutes=1), None)
    assert ride.pickup_at == booking.data["recovery_ends_at"]
    assert [e.type for e in outbox_events(migrated)] == ["ride.requested", "ride.cancelled"]
