"""Two changes to one session at the same moment are carried out one after the other, on SQLite and on PostgreSQL.

Each round books a session, then a barrier releases two requests against it together. Whatever the order the
database chose, the story must be a serial one: the answers, the stored session and the session's events in the
outbox agree with each other, a change the other one made impossible is a 409 with a reason, and transport,
following the events, ends with the ride the session's final state calls for.
"""

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fakes import ride_reported
from integration.helpers import always_open_clinic, eventually, register_with_intake, running, wait_until_ready
from sqlalchemy import select

from services.scheduler.adapters import tables
from services.scheduler.bootstrap import bootstrap
from services.transport.adapters import tables as transport_tables
from services.transport.bootstrap import bootstrap as bootstrap_transport
from shared.contract import from_json
from shared.messaging import EventConsumer
from shared.messaging.topology import TRANSPORT_QUEUE
from shared.persistence import create_database_engine
from shared.settings import Settings

pytestmark = pytest.mark.integration

TOKEN = "race-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ZONE = ZoneInfo("America/New_York")
ESCORT = {"mode": "escort", "escort_name": "Bo Lee", "escort_phone": "+14155550124"}
ROUNDS = 12
FIRST_DAY = datetime(2027, 1, 4, tzinfo=ZONE)

# What each request asks, and the event it causes when it is carried out.
EVENT_OF = {
    "reschedule_noon": "session.rescheduled",
    "reschedule_two": "session.rescheduled",
    "cancel": "session.cancelled",
    "check_in": "session.checked_in",
    "start_treatment": "session.treatment_started",
    "discharge": "session.discharged",
    "no_show": "session.no_show",
}
# The lifecycle as the clinic describes it, written out here so that the test does not borrow the code's own table.
ALLOWED_IN = {
    "booked": {"session.rescheduled", "session.cancelled", "session.checked_in", "session.no_show"},
    "checked_in": {"session.cancelled", "session.treatment_started"},
    "in_treatment": {"session.discharged"},
    "discharged": set(),
    "cancelled": set(),
    "no_show": set(),
}
STATUS_AFTER = {
    "session.booked": "booked",
    "session.rescheduled": "booked",
    "session.cancelled": "cancelled",
    "session.checked_in": "checked_in",
    "session.treatment_started": "in_treatment",
    "session.discharged": "discharged",
    "session.no_show": "no_show",
}


class Clock:
    """The scheduler's clock, set by the test: every round happens on a day of its own."""

    def __init__(self):
        self.now = FIRST_DAY

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True)
class Race:
    first: str
    second: str
    before: tuple[str, ...] = ()  # steps taken one by one before the race

    @property
    def compatible_in_some_order(self) -> bool:
        return (self.first, self.second) in {
            ("reschedule_noon", "reschedule_two"),
            ("reschedule_noon", "cancel"),
            ("check_in", "cancel"),
        }


RACES = {
    "reschedule-vs-cancel": Race("reschedule_noon", "cancel"),
    "two-reschedules": Race("reschedule_noon", "reschedule_two"),
    "check-in-vs-cancel": Race("check_in", "cancel"),
    "no-show-vs-cancel": Race("no_show", "cancel"),
    "check-in-vs-no-show": Race("check_in", "no_show"),
    "two-cancels": Race("cancel", "cancel"),
    "two-discharges": Race("discharge", "discharge", before=("check_in", "start_treatment")),
}


def scheduler(database_url: str, clock: Clock, broker_url: str = "memory://"):
    settings = Settings(
        service="scheduler",
        broker_url=broker_url,
        database_url=database_url,
        port=0,
        service_token=TOKEN,
        scheduler_url="http://127.0.0.1:1",
    )
    return bootstrap(settings, clinic=always_open_clinic(), clock=clock)


def at(day: datetime, hour: int) -> datetime:
    return day.replace(hour=hour)


def ask(client, kind: str, session_id: str, day: datetime):
    """One request of the front desk or the clinician; its status and body."""
    path = f"/api/sessions/{session_id}"
    if kind == "reschedule_noon":
        response = client.post(f"{path}/reschedule", json={"starts_at": at(day, 12).isoformat()}, headers=AUTH)
    elif kind == "reschedule_two":
        response = client.post(f"{path}/reschedule", json={"starts_at": at(day, 14).isoformat()}, headers=AUTH)
    elif kind == "cancel":
        response = client.post(f"{path}/cancel", json={"reason": "patient_unwell"}, headers=AUTH)
    else:
        response = client.post(f"{path}/{kind.replace('_', '-')}", headers=AUTH)
    return response.status_code, response.get_json()


def book_round(runtime, clock: Clock, day: datetime, before: tuple[str, ...] = ()) -> str:
    """A new patient's session at 10:00 on ``day``, taken through ``before``; the clock then stands at 10:20."""
    client = runtime.app.test_client()
    patient_id = register_with_intake(client, AUTH, "Ann Lee")
    clock.now = at(day, 6)
    response = client.post(
        "/api/sessions",
        json={
            "patient_id": patient_id,
            "treatment_type": "iv_infusion",
            "starts_at": at(day, 10).isoformat(),
            "ride_home": ESCORT,
        },
        headers=AUTH,
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    session_id = response.get_json()["id"]
    confirm_ride(runtime, session_id)
    # On the session's day and past its start, so that check-in and no-show are both allowed by the clock, and
    # before both reschedule targets, so that only the session's state can refuse a step.
    clock.now = at(day, 10) + timedelta(minutes=20)
    for kind in before:
        status, body = ask(client, kind, session_id, day)
        assert status == 200, body
    return session_id


def confirm_ride(runtime, session_id: str) -> None:
    """Transport reported the ride home confirmed, through the scheduler's use case as its consumer runs it: so that
    only the session's state, not the check-in gate, can refuse a raced check-in."""
    [consumer] = [worker for worker in runtime.workers if isinstance(worker, EventConsumer)]
    consumer.handlers["ride.confirmed"](ride_reported(session_id))


def race(runtime, session_id: str, kinds: tuple[str, str], day: datetime) -> list[tuple[str, int, dict]]:
    """Both requests released together by a barrier, each on a client of its own; (kind, status, body) of each."""
    barrier = threading.Barrier(len(kinds))
    answers: list = [None] * len(kinds)
    failures: list[BaseException] = []

    def attempt(index: int, kind: str) -> None:
        try:
            client = runtime.app.test_client()
            barrier.wait(timeout=120)
            answers[index] = (kind, *ask(client, kind, session_id, day))
        except BaseException as exc:  # reported below rather than lost in the thread
            failures.append(exc)

    threads = [threading.Thread(target=attempt, args=pair, daemon=True) for pair in enumerate(kinds)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert not any(thread.is_alive() for thread in threads), "a request never finished"
    assert not failures, failures
    return answers


def events_of(engine, session_id: str) -> list:
    outbox = tables.messaging.outbox
    with engine.connect() as connection:
        rows = (
            connection.execute(
                select(outbox.c.body).where(outbox.c.correlation_id == session_id).order_by(outbox.c.position)
            )
            .scalars()
            .all()
        )
    return [from_json(body) for body in rows]


def replay(events) -> list[dict]:
    """The session's state after each event, checking that each one could follow the one before it."""
    booked, *changes = events
    assert booked.type == "session.booked", [e.type for e in events]
    state = {"status": "booked", **{key: booked.data[key] for key in ("starts_at", "recovery_ends_at")}}
    states = [dict(state)]
    for event in changes:
        assert event.type in ALLOWED_IN[state["status"]], (
            f"{event.type} came after the session was {state['status']}: {[e.type for e in events]}"
        )
        if event.type == "session.rescheduled":
            assert event.data["previous_starts_at"] == state["starts_at"], "a reschedule names a time no longer stored"
            assert event.data["previous_recovery_ends_at"] == state["recovery_ends_at"]
            state["starts_at"], state["recovery_ends_at"] = event.data["starts_at"], event.data["recovery_ends_at"]
        if event.type == "session.treatment_started":
            # The session's times follow the actual start: the pickup with them.
            state["starts_at"], state["recovery_ends_at"] = (
                event.data["treatment_started_at"],
                event.data["recovery_ends_at"],
            )
        state["status"] = STATUS_AFTER[event.type]
        states.append(dict(state))
    return states


def shown(body: dict) -> dict:
    return {
        "status": body["status"],
        "starts_at": datetime.fromisoformat(body["starts_at"]),
        "recovery_ends_at": datetime.fromisoformat(body["recovery_ends_at"]),
    }


def check_one_serial_story(runtime, engine, session_id: str, race_: Race, answers) -> dict:
    """Answers, stored session and events tell one story; returns the stored session."""
    for kind, status, body in answers:
        assert status in (200, 409), (kind, status, body)
        if status == 409:
            assert body["reason"] == "transition_not_allowed" and body["message"], (kind, body)

    events = events_of(engine, session_id)
    states = replay(events)
    raced = events[1 + len(race_.before) :]
    winners = [(kind, body) for kind, status, body in answers if status == 200]
    assert sorted(e.type for e in raced) == sorted(EVENT_OF[kind] for kind, _ in winners), (
        "each answer of 200 is one event, and nothing else happened",
        [e.type for e in events],
        answers,
    )

    # Each winner's answer is the state its own event left; the last event's answer is what is stored.
    answered_states = states[1 + len(race_.before) :]
    for kind, body in winners:
        matching = [
            s for e, s in zip(raced, answered_states, strict=False) if e.type == EVENT_OF[kind] and s == shown(body)
        ]
        assert matching, (kind, body, answered_states)
    stored = runtime.app.test_client().get(f"/api/sessions/{session_id}", headers=AUTH)
    assert stored.status_code == 200
    assert shown(stored.get_json()) == states[-1], (stored.get_json(), states)

    # A loser was refused only because the winner's change made its step impossible.
    for kind, status, _body in answers:
        if status == 409:
            assert EVENT_OF[kind] not in ALLOWED_IN[states[-1]["status"]], (kind, states[-1], answers)
    if not race_.compatible_in_some_order:
        assert len(winners) == 1, answers
    return stored.get_json()


@pytest.mark.parametrize("race_", list(RACES.values()), ids=list(RACES))
def test_two_changes_to_one_session_at_once_tell_one_serial_story(database_url, race_):
    clock = Clock()
    runtime = scheduler(database_url, clock)
    engine = create_database_engine(database_url, schema="scheduler")
    outcomes = []
    try:
        for round_ in range(ROUNDS):
            day = FIRST_DAY + timedelta(days=round_)
            session_id = book_round(runtime, clock, day, race_.before)
            if "discharge" in (race_.first, race_.second):
                # Treatment started at 10:20; its monitoring (45 minutes after the 45-minute infusion) ends at 11:50.
                clock.now = at(day, 12)
            answers = race(runtime, session_id, (race_.first, race_.second), day)
            stored = check_one_serial_story(runtime, engine, session_id, race_, answers)
            outcomes.append((tuple(status for _, status, _ in answers), stored["status"]))
    finally:
        engine.dispose()

    if race_ in (RACES["reschedule-vs-cancel"], RACES["check-in-vs-cancel"]):
        # A cancel is allowed before and after the other step, so it always wins: the session ends cancelled.
        assert {stored for _, stored in outcomes} == {"cancelled"}, outcomes
        assert {statuses[1] for statuses, _ in outcomes} == {200}, outcomes
    if race_ is RACES["two-reschedules"]:
        assert {statuses for statuses, _ in outcomes} == {(200, 200)}, outcomes


# --- transport follows the story ----------------------------------------------------------------------------------


def test_transport_ends_with_the_ride_that_the_sessions_final_state_calls_for(database_url, postgres_url, broker_url):
    clock = Clock()
    runtime = scheduler(database_url, clock, broker_url)
    sessions = []
    for round_ in range(ROUNDS):
        day = FIRST_DAY + timedelta(days=round_)
        race_ = RACES["reschedule-vs-cancel"] if round_ % 2 == 0 else RACES["two-reschedules"]
        session_id = book_round(runtime, clock, day)
        race(runtime, session_id, (race_.first, race_.second), day)
        sessions.append(session_id)

    engine = create_database_engine(database_url, schema="scheduler")
    transport_engine = create_database_engine(postgres_url, schema="transport")
    try:
        routed = {e.event_id for s in sessions for e in events_of(engine, s) if e.type in TRANSPORT_QUEUE.routing_keys}
        transport = bootstrap_transport(
            Settings(
                service="transport",
                broker_url=broker_url,
                database_url=postgres_url,
                port=0,
                service_token=TOKEN,
                scheduler_url="http://127.0.0.1:1",
            )
        )
        relay = transport.workers[0]
        [consumer] = [worker for worker in transport.workers if isinstance(worker, EventConsumer)]
        with running(consumer, name="transport consumer"), running(relay, name="transport relay"):
            wait_until_ready(consumer)
            with running(runtime.workers[0], name="scheduler relay"):
                processed = transport_tables.messaging.processed_events

                def all_handled():
                    with transport_engine.connect() as connection:
                        return routed <= set(connection.execute(select(processed.c.event_id)).scalars())

                eventually(all_handled, what="transport handling every event of the raced sessions")

        client = transport.app.test_client()
        for session_id in sessions:
            stored = runtime.app.test_client().get(f"/api/sessions/{session_id}", headers=AUTH).get_json()
            response = client.get("/api/rides", query_string={"session_id": session_id}, headers=AUTH)
            [ride] = response.get_json()["rides"]
            if stored["status"] == "cancelled":
                assert ride["status"] == "cancelled", (stored, ride)
            else:
                assert (stored["status"], ride["status"]) == ("booked", "requested"), (stored, ride)
                assert datetime.fromisoformat(ride["pickup_at"]) == datetime.fromisoformat(stored["recovery_ends_at"])
    finally:
        engine.dispose()
        transport_engine.dispose()
